"""Demux.states() / has_results(), the whole-response views OnepV1 reads big
batches through: C == Python == the per-call accessors."""
import orjson
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast._core.demux import NO_RESULT, CDemux, PyDemux

entries = st.lists(st.fixed_dictionaries({"id": st.integers(-2, 40)}, optional={
    "status": st.sampled_from(["ok", "invalid", [[1, "invalid"]]]),
    "result": st.one_of(st.none(), st.integers(-10**6, 10**6), st.text(max_size=3)),
    "error": st.just({"code": 501}),
}), max_size=50)


@given(entries, st.integers(0, 5), st.integers(0, 40))
def test_bulk_views_match_per_call_accessors(response, first_id, ncalls):
    body = orjson.dumps(response)
    for cls in (CDemux, PyDemux):
        answer = cls(body, first_id, ncalls)
        assert answer.states() == [answer.state(i) for i in range(ncalls)]
        assert answer.has_results() == [answer.result(i) is not NO_RESULT for i in range(ncalls)]
    assert CDemux(body, first_id, ncalls).states() == PyDemux(body, first_id, ncalls).states()


def test_bulk_views_of_a_big_response():
    body = orjson.dumps([{"id": k, "status": "ok", **({"result": k} if k % 3 == 0 else {})}
                         for k in range(20000)])
    answer = CDemux(body, 0, 20000)
    assert answer.states() == [1] * 20000
    assert answer.has_results() == [k % 3 == 0 for k in range(20000)]
