"""Time series procedures of the embedded server over loopback HTTP: read
options, write/writegroup/record/recordbatch typing, flush, retention,
wait, preprocess and subscriptions (spec 2.3, 3.1-3.7, 8)."""
import threading
import time

import orjson

from rpc_helpers import make_dataport, ok, one


def test_read_sort_limit_window(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[t, t * 10] for t in range(1, 11)], {})
    read = lambda **o: ok(rpc, cik, "read", port, o)
    assert read() == [[10, 100]]                                           # default: desc, limit 1
    assert read(limit=3) == [[10, 100], [9, 90], [8, 80]]
    assert read(limit=3, sort="asc") == [[1, 10], [2, 20], [3, 30]]
    assert read(starttime=3, endtime=5, limit=10, sort="asc") == [[3, 30], [4, 40], [5, 50]]   # inclusive
    assert read(starttime=6, endtime=5, limit=10) == []
    assert read(limit=0) == []
    assert read(starttime=1, endtime=10, limit=2, selection="givenwindow", sort="asc") == [[1, 10], [6, 60]]
    assert read(starttime=1, endtime=10, limit=2, selection="givenwindow") == [[6, 60], [1, 10]]   # earliest of each
    assert read(starttime=0, endtime=10 ** 7, limit=10 ** 7, selection="givenwindow", sort="asc") == [
        [t, t * 10] for t in range(1, 11)]                                 # a window per second: every point
    assert read(limit=5, selection="autowindow", sort="asc") == [[1, 10], [3, 30], [5, 50], [7, 70], [9, 90]]
    assert read(limit=20, selection="autowindow", sort="asc") == [[t, t * 10] for t in range(1, 11)]
    for bad in ({"limit": -1}, {"starttime": -1}, {"endtime": -5}, {"sort": "up"}, {"selection": "some"},
                {"limit": "3"}):
        assert one(rpc, cik, "read", port, bad)["status"] == "invalid", bad
    client_read = one(rpc, cik, "read", {"alias": ""}, {})
    assert client_read["status"] == "invalid"


def test_givenwindow_picks_the_earliest_point_of_each_window_whatever_the_sort(rpc, fresh_client):
    """The contract's own example (spec 3.1), and windows that split [start, end] unevenly."""
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[t, t] for t in (1, 2, 3, 4, 5, 8)], {})
    window = {"starttime": 1, "endtime": 10, "limit": 2, "selection": "givenwindow"}
    assert ok(rpc, cik, "read", port, {**window, "sort": "desc"}) == [[8, 8], [1, 1]]
    assert ok(rpc, cik, "read", port, {**window, "sort": "asc"}) == [[1, 1], [8, 8]]
    # (endtime, limit, times): window k starts at 1 + k * span // limit; more windows than points are read another way
    cases = [
        (8, 3, [1, 3, 8]),                     # [1, 2] [3, 5] [6, 8]
        (8, 6, [1, 2, 3, 5, 8]),               # [1] [2] [3, 4] [5] [6] [7, 8]
        (8, 7, [1, 2, 3, 4, 5, 8]),            # [1] .. [6] [7, 8]
        (80, 8, [1]),                          # ten seconds each
        (10 ** 9, 10 ** 6, [1]),
        (8, 10 ** 6, [1, 2, 3, 4, 5, 8])]
    for end, limit, times in cases:
        window = {"starttime": 1, "endtime": end, "limit": limit, "selection": "givenwindow"}
        assert ok(rpc, cik, "read", port, {**window, "sort": "asc"}) == [[t, t] for t in times], (end, limit)
        assert ok(rpc, cik, "read", port, window) == [[t, t] for t in reversed(times)], (end, limit)


def test_value_typing(rpc, fresh_client):
    cik = fresh_client["cik"]
    cases = {
        "integer": ([5, "7", -3], [2.5, "x", True, None, [1]]),
        "float": ([1, 2.5, "0", "-1.5e3"], ["abc", True, None, {}]),
        "string": (["héllo", 12, 1.5], [None, True, ["a"], "x" * 70000]),
    }
    for fmt, (good, bad) in cases.items():
        port = make_dataport(rpc, cik, fmt)
        for value in good:
            assert one(rpc, cik, "write", port, value, {}) == {"status": "ok"}, (fmt, value)
        for value in bad:
            assert one(rpc, cik, "write", port, value, {}) == {"status": "invalid"}, (fmt, value)
    port = make_dataport(rpc, cik, "float")
    ok(rpc, cik, "write", port, "0", {})
    assert ok(rpc, cik, "read", port, {})[0][1] == 0.0
    strings = make_dataport(rpc, cik, "string")
    ok(rpc, cik, "record", strings, [[1, 12], [2, 1.5]], {})
    assert ok(rpc, cik, "read", strings, {"limit": 2, "sort": "asc"}) == [[1, "12"], [2, "1.5"]]


def test_same_timestamp_replaces(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[5, 1], [5, 2], [6, 3]], {})
    ok(rpc, cik, "record", port, [[6, 4]], {})
    assert ok(rpc, cik, "read", port, {"limit": 10, "sort": "asc"}) == [[5, 2], [6, 4]]
    out = rpc(cik, [{"id": 1, "procedure": "write", "arguments": [port, 10, {}]},
                    {"id": 2, "procedure": "write", "arguments": [port, 11, {}]},
                    {"id": 3, "procedure": "read", "arguments": [port, {"limit": 10}]}])
    assert out[2]["result"][0][1] == 11 and len(out[2]["result"]) == 3   # same second: one point


def test_writegroup_all_or_nothing(rpc, fresh_client):
    cik = fresh_client["cik"]
    a = make_dataport(rpc, cik, "integer")
    b = make_dataport(rpc, cik, "string")
    ok(rpc, cik, "writegroup", [[a, 1], [b, "x"]])
    ra, rb = ok(rpc, cik, "read", a, {}), ok(rpc, cik, "read", b, {})
    assert ra[0][1] == 1 and rb[0][1] == "x" and ra[0][0] == rb[0][0]
    assert one(rpc, cik, "writegroup", [[a, 2], [b, "y"], [a, "nope"]]) == {"status": "invalid"}
    assert one(rpc, cik, "writegroup", [[a, 3], ["f" * 40, 1]]) == {"status": "restricted"}
    assert ok(rpc, cik, "read", a, {})[0][1] == 1


def test_record_and_recordbatch(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    before = int(time.time())
    ok(rpc, cik, "record", port, [[-10, 1], [0, 2], [4102444800, 3]], {})     # relative, epoch 0, future
    points = ok(rpc, cik, "read", port, {"limit": 10, "sort": "asc", "endtime": 1 << 40})
    assert points[0] == [0, 2] and points[2] == [4102444800, 3]
    assert before - 10 <= points[1][0] <= int(time.time()) - 10
    assert one(rpc, cik, "record", port, [[1, 1], [2, "bad"]], {}) == {"status": "invalid"}
    assert ok(rpc, cik, "read", port, {"starttime": 1, "endtime": 2}) == []
    out = one(rpc, cik, "recordbatch", port, [[1, 1], [2, "bad"], [3, 3], [4.5, 4], "junk"])
    assert out == {"status": [[2, "invalid"], [4.5, "invalid"], [None, "invalid"]]}   # t as given
    assert ok(rpc, cik, "read", port, {"starttime": 1, "endtime": 3, "limit": 5, "sort": "asc"}) == [[1, 1], [3, 3]]
    assert ok(rpc, cik, "recordbatch", port, []) is None


def test_flush_bounds_exclusive(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    fill = lambda: ok(rpc, cik, "record", port, [[t, t] for t in range(1, 11)], {})
    times = lambda: [p[0] for p in ok(rpc, cik, "read", port, {"limit": 20, "sort": "asc"})]
    fill()
    ok(rpc, cik, "flush", port, {"newerthan": 3, "olderthan": 7})
    assert times() == [1, 2, 3, 7, 8, 9, 10]
    ok(rpc, cik, "flush", port, {"newerthan": 8})
    assert times() == [1, 2, 3, 7, 8]
    ok(rpc, cik, "flush", port, {"olderthan": 3})
    assert times() == [3, 7, 8]
    ok(rpc, cik, "flush", port)
    assert times() == []
    assert one(rpc, cik, "flush", port, {"newerthan": "x"}) == {"status": "invalid"}
    assert one(rpc, cik, "flush", {"alias": ""}) == {"status": "invalid"}


def test_retention_count_and_duration(rpc, fresh_client):
    cik = fresh_client["cik"]
    counted = make_dataport(rpc, cik, "integer", retention={"count": 3, "duration": "infinity"})
    ok(rpc, cik, "record", counted, [[t, t] for t in range(1, 11)], {})
    assert ok(rpc, cik, "read", counted, {"limit": 10, "sort": "asc"}) == [[8, 8], [9, 9], [10, 10]]
    assert ok(rpc, cik, "info", counted, {"storage": True})["storage"] == {"count": 3, "first": 8, "last": 10,
                                                                           "size": 36}
    never = make_dataport(rpc, cik, "integer", retention={"count": 0, "duration": "infinity"})
    ok(rpc, cik, "write", never, 1, {})
    assert ok(rpc, cik, "read", never, {}) == []
    recent = make_dataport(rpc, cik, "integer", retention={"count": "infinity", "duration": 1})
    ok(rpc, cik, "record", recent, [[-7200, 1], [-10, 2]], {})
    assert [v for _, v in ok(rpc, cik, "read", recent, {"limit": 5})] == [2]


def test_preprocess(rpc, fresh_client):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "float", preprocess=[["mul", 2], ["add", 1]])
    ok(rpc, cik, "write", port, 3, {})
    assert ok(rpc, cik, "read", port, {})[0][1] == 7.0
    flag = make_dataport(rpc, cik, "integer", preprocess=[["gt", 10]])
    ok(rpc, cik, "record", flag, [[1, 5], [2, 50]], {})
    assert ok(rpc, cik, "read", flag, {"limit": 2, "sort": "asc"}) == [[1, 0], [2, 1]]


def test_subscription_chain(rpc, fresh_client):
    cik = fresh_client["cik"]
    source = make_dataport(rpc, cik, "integer", alias="src")
    middle = make_dataport(rpc, cik, "float", subscribe={"alias": "src"}, preprocess=[["add", 0.5]])
    last = make_dataport(rpc, cik, "string", subscribe=middle)
    ok(rpc, cik, "record", source, [[100, 1], [101, 2]], {})
    assert ok(rpc, cik, "read", middle, {"limit": 5, "sort": "asc"}) == [[100, 1.5], [101, 2.5]]
    assert ok(rpc, cik, "read", last, {"limit": 5, "sort": "asc"}) == [[100, "1.5"], [101, "2.5"]]


def test_wait(rpc, fresh_client, server, http):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "integer")
    ok(rpc, cik, "record", port, [[100, 1], [200, 2]], {})
    assert ok(rpc, cik, "wait", port, {"since": 150, "timeout": 1000}) == [200, 2]       # already there
    assert one(rpc, cik, "wait", port, {"timeout": 50}) == {"status": "expire"}
    assert one(rpc, cik, "wait", port, {"timeout": -1}) == {"status": "error"}
    assert one(rpc, cik, "wait", port, {"timeout": "soon"}) == {"status": "error"}
    assert one(rpc, cik, "wait", port, "x") == {"status": "error"}
    result = {}

    def waiter():   # a long poll on its own connection must not block the writer below
        body = orjson.dumps({"auth": {"cik": cik}, "calls": [
            {"id": 1, "procedure": "wait", "arguments": [port, {"timeout": 20000}]}]})
        response = http.request("POST", server.url + "/onep:v1/rpc/process", body=body)
        result["entry"] = orjson.loads(response.data)[0]

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.store.storage.watchers.watching(port) and time.monotonic() < deadline:
        time.sleep(0.01)
    ok(rpc, cik, "record", port, [[50, 7]], {})        # arrival counts, not the timestamp
    thread.join(15)
    assert result["entry"] == {"id": 1, "status": "ok", "result": [50, 7]}


def test_large_series_chunks_and_compaction(rpc, fresh_client, server):
    cik = fresh_client["cik"]
    port = make_dataport(rpc, cik, "float")
    ok(rpc, cik, "recordbatch", port, [[t, t / 2] for t in range(1, 150001)])
    for t in range(150001, 151001):      # single points grow a tail chunk and get compacted
        ok(rpc, cik, "record", port, [[t, 1.0]], {})
    ok(rpc, cik, "recordbatch", port, [[5, -1.0], [149999, -2.0]])      # lands inside existing chunks
    storage = ok(rpc, cik, "info", port, {"storage": True})["storage"]
    assert storage == {"count": 151000, "first": 1, "last": 151000, "size": 151000 * 12}
    read = lambda **o: ok(rpc, cik, "read", port, o)
    assert read(starttime=4, endtime=6, limit=5, sort="asc") == [[4, 2.0], [5, -1.0], [6, 3.0]]
    assert read(starttime=149998, endtime=150002, limit=5, sort="asc") == [
        [149998, 74999.0], [149999, -2.0], [150000, 75000.0], [150001, 1.0], [150002, 1.0]]
    assert len(read(limit=200000)) == 151000
    chunks = server.store.onep.get(port).series.chunks
    assert len(chunks) < 10
    assert all(a.t_last < b.t_first for a, b in zip(chunks, chunks[1:]))


def test_bulk_path_equals_general_path(rpc, fresh_client):
    """Sorted numeric batches take the list-at-a-time path; shuffled ones the
    per-entry path: the stored points must be the same."""
    cik = fresh_client["cik"]
    entries = [[t, t * 7 if t % 3 else t * 0.25] for t in range(1, 3001)]
    for fmt in ("float", "integer"):
        bulk = make_dataport(rpc, cik, fmt)
        general = make_dataport(rpc, cik, fmt)
        first = one(rpc, cik, "recordbatch", bulk, entries)
        second = one(rpc, cik, "recordbatch", general, list(reversed(entries)))
        in_order = lambda entry: sorted(entry["status"]) if isinstance(entry["status"], list) else entry["status"]
        assert in_order(first) == in_order(second)
        read = {"limit": 5000, "sort": "asc"}
        assert ok(rpc, cik, "read", bulk, read) == ok(rpc, cik, "read", general, read)
        assert orjson.dumps(ok(rpc, cik, "read", bulk, read)) == orjson.dumps(ok(rpc, cik, "read", general, read))


def test_large_reads_encoded_from_columns_read_the_same(rpc, fresh_client):
    """Reads of ENCODE_MIN points or more are encoded from the columns in C;
    smaller ones go through Python lists: the same points either way."""
    from pyonep_fast.server.storage.timeseries import CHUNK_MAX, ENCODE_MIN
    cik = fresh_client["cik"]
    n = CHUNK_MAX + 2 * ENCODE_MIN
    values = {"float": [t * 0.37 if t % 5 else (1e16, 1e-7, -0.0, 5e-324, 1.7976931348623157e308)[t % 25 // 5]
                        for t in range(n)],
              "integer": [(t * 7919) % 1000003 - 500000 if t % 3 else -(1 << 63) + t for t in range(n)]}
    for fmt, column in values.items():
        port = make_dataport(rpc, cik, fmt)
        points = [[t + 1, v] for t, v in enumerate(column)]
        ok(rpc, cik, "recordbatch", port, points)
        for t in range(n + 1, n + 101):        # a tail of single writes after the bulk chunks
            ok(rpc, cik, "record", port, [[t, column[t % n]]], {})
            points.append([t, column[t % n]])
        for start, end in ((0, 1 << 40), (CHUNK_MAX - 300, CHUNK_MAX + 300), (n - 50, n + 60)):
            inside = [p for p in points if start <= p[0] <= end]
            for limit in (ENCODE_MIN - 1, ENCODE_MIN, 700, len(points)):
                for sort, expected in (("asc", inside[:limit]), ("desc", inside[::-1][:limit])):
                    got = ok(rpc, cik, "read", port, {"starttime": start, "endtime": end, "limit": limit,
                                                      "sort": sort})
                    assert got == expected, (fmt, start, end, limit, sort)
