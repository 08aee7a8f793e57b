"""One Platform behaviours that programs written for the hosted platform
depend on (issue 10; spec 2.1, 3.1, 3.8, 3.11, 3.16, 7), against the
embedded server over loopback HTTP."""
from rpc_helpers import make_client, make_dataport, ok, one


def test_givenwindow_earliest_point_of_each_window(rpc, fresh_client):
    # the worked example of spec 3.1
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[t, t * 10] for t in (1, 2, 3, 4, 5, 8)], {})
    window = {"starttime": 1, "endtime": 10, "limit": 2, "selection": "givenwindow"}
    assert ok(rpc, cik, "read", port, {**window, "sort": "desc"}) == [[8, 80], [1, 10]]
    assert ok(rpc, cik, "read", port, {**window, "sort": "asc"}) == [[1, 10], [8, 80]]
    # an empty window gives nothing; the others still their earliest point
    assert ok(rpc, cik, "read", port, {**window, "limit": 5, "sort": "desc"}) == [[8, 80], [5, 50], [3, 30], [1, 10]]
