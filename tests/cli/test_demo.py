"""`pyonep-fast demo` end to end with a small history."""
from pyonep_fast.cli import main
from pyonep_fast.cli.demo import SENSORS, generate, point_counts


def test_history_is_deterministic_and_adds_up():
    first, again = generate(5000), generate(5000)
    assert first == again and sum(len(ts) for ts, _ in first.values()) == 5000
    assert list(first) == [alias for alias, _, _ in SENSORS] and sum(point_counts(5000)) == 5000
    assert set(first["pump.status"][1]) <= {"idle", "pumping", "fault", "maintenance"}


def test_demo_ingests_verifies_and_compares_with_the_baseline(capsys):
    assert main(["demo", "--points", "30000", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "30,000 points stored" in out and "every point equal" in out
    assert "requests + json baseline" in out and "speed-up:" in out
    assert "web portal: http://127.0.0.1:" in out and "--keep-serving keeps it up" in out
