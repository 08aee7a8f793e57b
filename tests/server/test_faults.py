"""kill -9 at seeded moments of a mixed workload (issue 9): after each
restart every acknowledged change is served, nothing unsent or half-applied
is, and the database passes `PRAGMA integrity_check`. The harness is
tests/fault_harness.py; bench/bench_faults.py runs it long."""
import fault_harness


def test_kill_9_under_mixed_load_loses_nothing_acknowledged(tmp_path):
    outcome = fault_harness.run(str(tmp_path / "faults.db"), seed=9, kills=3, acks_per_round=(15, 60),
                                big_points=20000)
    assert outcome.kills == 3
    assert outcome.acknowledged >= 3 * 15
    assert outcome.refusals == []
    assert outcome.integrity == []
    assert outcome.lost == []
    assert outcome.phantoms == []
