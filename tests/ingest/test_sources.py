"""Ingest sources and column operations: no server needed."""
import io
from array import array

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyonep_fast.ingest.columns import NumpyColumns, PythonColumns, point_hash
from pyonep_fast.ingest.sources import ArraySource, CsvSource, DataFrameSource, IterableSource, source_of

PY = PythonColumns()
NP = NumpyColumns(np)


def points_of(chunks):
    """{target index: [(t, v), ...]} and all error messages of chunks."""
    points, errors = {}, []
    for chunk in chunks:
        errors += chunk.errors
        for part in chunk.parts:
            points.setdefault(part.target, []).extend(zip(list(part.ts), list(part.values)))
    return points, errors


# ---------------------------------------------------------------- columns twins

columns_strategy = st.lists(st.tuples(st.integers(0, 40), st.floats(allow_nan=False, allow_infinity=False)),
                            max_size=60)


@given(columns_strategy)
def test_sort_dedupe_twins_agree_and_last_point_wins(pairs):
    ts = [t for t, _ in pairs]
    values = [v for _, v in pairs]
    py_ts, py_values, py_replaced = PY.sort_dedupe(array("q", ts), array("d", values))
    np_ts, np_values, np_replaced = NP.sort_dedupe(np.array(ts, dtype=np.int64), np.array(values))
    last = dict(pairs)
    assert list(py_ts) == sorted(last) == np_ts.tolist()
    assert list(py_values) == [last[t] for t in sorted(last)] == np_values.tolist()
    assert sorted(py_replaced) == sorted(np_replaced) and len(py_replaced) == len(pairs) - len(last)


@given(st.lists(st.tuples(st.integers(0, 2**62), st.integers(-2**63, 2**63 - 1)), max_size=40),
       st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=40))
def test_checksum_twins_agree(int_points, floats):
    ts = [t for t, _ in int_points]
    ints = [v for _, v in int_points]
    expected = sum(point_hash(t, v, "int") for t, v in int_points) % 2**64
    assert PY.checksum(array("q", ts), array("q", ints), "int") == expected
    assert NP.checksum(np.array(ts, dtype=np.int64), np.array(ints, dtype=np.int64), "int") == expected
    ts = list(range(len(floats)))
    assert PY.checksum(array("q", ts), array("d", floats), "float") == \
        NP.checksum(np.array(ts, dtype=np.int64), np.array(floats), "float")


def test_checksum_of_strings_and_sensitivity():
    assert PY.checksum(array("q", [1, 2]), ["a", "b"], "string") == \
        NP.checksum(np.array([1, 2], dtype=np.int64), ["a", "b"], "string")
    base = PY.checksum(array("q", [1, 2]), array("d", [1.0, 2.0]), "float")
    assert base != PY.checksum(array("q", [1, 2]), array("d", [1.0, 2.5]), "float")
    assert base != PY.checksum(array("q", [1, 3]), array("d", [1.0, 2.0]), "float")


# ---------------------------------------------------------------- CSV

def csv_source(text, *args, **kwargs):
    return CsvSource(io.BytesIO(text.encode()), *args, **kwargs)


def test_csv_exoline_style_rows():
    source = csv_source("10,1.5\n11,2.5\n12,3\n", ["temp"])
    points, errors = points_of(source.chunks(["float"], 2))
    assert points == {0: [(10, 1.5), (11, 2.5), (12, 3.0)]} and errors == []


def test_csv_header_names_select_columns_and_targets():
    text = "time,humidity,temp,status\n2015-01-22T05:56:12Z,40,21.5,ok\n2015-01-22T05:56:13Z,41,21.75,\n"
    source = csv_source(text, {"temp": "t1", "status": "0123456789abcdef0123456789abcdef01234567"},
                        time_column="time", header=True)
    assert source.targets == ["t1", "0123456789abcdef0123456789abcdef01234567"]
    points, errors = points_of(source.chunks(["float", "string"], 100))
    assert points == {0: [(1421906172, 21.5), (1421906173, 21.75)], 1: [(1421906172, "ok")]}
    assert errors == []
    every = csv_source(text, header=True, time_column="time")
    assert every.targets == ["humidity", "temp", "status"]


MALFORMED = (
    "100,1.0,5\n"
    "101,abc,6\n"          # line 2: bad float, the int is kept
    "102\n"                # line 3: too few fields
    "\n"                   # line 4: blank, skipped
    "-1,2.0,7\n"           # line 5: negative time
    "103,nan,8\n"          # line 6: NaN
    "104,4.0,9.5\n"        # line 7: not an integer, the float is kept
    '105,"5.0",10\n'       # line 8: quoted number is fine
    "nonsense,1,1\n"       # line 9: bad timestamp
    "106,6.0,11\n"
)


@pytest.mark.parametrize("chunk_points", [2, 4, 1000])
def test_malformed_csv_rows_are_reported_by_line_and_nothing_else_is_lost(chunk_points):
    source = csv_source(MALFORMED, ["f", "i"])
    points, errors = points_of(source.chunks(["float", "int"], chunk_points))
    assert points == {0: [(100, 1.0), (104, 4.0), (105, 5.0), (106, 6.0)],
                      1: [(100, 5), (101, 6), (103, 8), (105, 10), (106, 11)]}
    assert [e.split(":")[0] for e in errors] == ["line 2, column 2", "line 3", "line 5", "line 6, column 2",
                                                  "line 7, column 3", "line 9"]
    assert "not a number" in errors[0] and "negative" in errors[2] and "not an integer" in errors[4]


@pytest.mark.parametrize("reader, kinds", [("numpy", ["float", "int"]), ("pandas", ["float", "float"])])
def test_csv_c_readers_and_row_reader_agree(reader, kinds):
    rows = "".join(f"{1000 + i}{'.0' if i % 5 == 0 else ''},{i * 0.1 + 1e-7},{-i}\n" for i in range(500))
    block = rows.encode()
    source = csv_source(rows, ["a", "b"])
    table = source._read_numpy(np, block, kinds) if reader == "numpy" else \
        source._read_pandas(pytest.importorskip("pandas"), block)
    slow, errors, _, _ = source._parse_rows(block.split(b"\n")[:500], 1, kinds)
    assert errors == [] and [len(p.ts) for p in slow] == [500, 500]
    if reader == "numpy":   # loadtxt refuses "1005.0" for an int64 time column: the row reader takes over
        assert table is None
        block = block.replace(b".0,", b",")
        table = source._read_numpy(np, block, kinds)
    fast = source._checked_parts(np, table, 500, kinds, 1)
    for f, s in zip(fast, slow):
        assert f.ts.tolist() == list(s.ts) and f.values.tolist() == list(s.values)
        assert f.values.dtype == (np.int64 if kinds[f.target] == "int" else np.float64)


def test_csv_blocks_the_c_readers_refuse_fall_back_to_the_row_reader():
    for text in ("1,2.5\n2,nan\n", "1,2.5\n\n2,3\n", "1,2.5\n-2,3\n", "1,2.5\n2.5,3\n"):
        source = csv_source(text, ["a"])
        block, lines = text.encode(), text.count("\n")
        for table in (source._read_numpy(np, block, ["float"]),
                      source._read_pandas(pytest.importorskip("pandas"), block)):
            assert table is None or source._checked_parts(np, table, lines, ["float"], 1) is None


def test_csv_chunks_are_whole_lines_and_a_resume_cuts_the_same_chunks(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("t,v\n" + "".join(f"{i},{i}\n" for i in range(1, 26)) + "26,26")
    source = CsvSource(path, header=True)
    chunks = list(source.chunks(["int"], 2))
    assert [c.label for c in chunks[:3]] == ["lines 2-7", "lines 8-12", "lines 13-16"]   # <= 24 bytes each
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:]))
    again = list(source.chunks(["int"], 2, chunks[3].start))
    assert [c.label for c in again] == [c.label for c in chunks[3:]]
    assert points_of(again)[0] == points_of(chunks[3:])[0]
    assert points_of(chunks)[0][0] == [(i, i) for i in range(1, 27)]
    assert chunks[-1].end == {"offset": path.stat().st_size, "line": 27}
    long_line = list(csv_source("1," + "7" * 100 + "\n2,3\n", ["x"]).chunks(["float"], 1))
    assert [c.label for c in long_line] == ["lines 1-1", "lines 2-2"]


def test_csv_column_errors_are_clear():
    with pytest.raises(ValueError, match="not in the header"):
        csv_source("a,b\n", {"c": "x"}, header=True)
    with pytest.raises(ValueError, match="header=True"):
        csv_source("1,2\n")


# ---------------------------------------------------------------- in memory

def test_array_source_takes_numpy_array_and_lists_and_reports_bad_items():
    source = ArraySource({"a": (np.arange(5, dtype=np.int64), np.linspace(0, 1, 5)),
                          "b": (array("q", [1, 2, 3]), array("q", [7, 8, 9])),
                          "c": ([1, 2.5, -3, 4], [1.0, 2.0, 3.0, float("nan")])})
    points, errors = points_of(source.chunks(["float", "int", "float"], 2))
    assert points[0] == list(zip(range(5), np.linspace(0, 1, 5).tolist()))
    assert points[1] == [(1, 7), (2, 8), (3, 9)] and points[2] == [(1, 1.0)]
    assert errors == ["c: item 1: timestamp 2.5 is not a whole number of seconds",
                      "c: item 2: timestamp -3 is negative: the server reads negative times as seconds before "
                      "its own clock (spec §3.4), which an ingest can neither resume nor verify",
                      "c: item 3: nan is not a finite number: NaN and infinity cannot be stored"]


def test_iterable_source_resumes_by_skipping_consumed_items():
    def pairs():
        return {"x": ((t, t * 2) for t in range(10)), "y": iter([(1, "a"), ("bad", "b"), (3, 4)])}
    chunks = list(IterableSource(pairs()).chunks(["int", "string"], 3))
    assert [c.start["item"] for c in chunks] == [0, 3, 6, 9, 10]
    points, errors = points_of(chunks)
    assert points[1] == [(1, "a"), (3, "4")] and errors == ["y: item 1: timestamp 'bad' is neither epoch seconds "
                                                            "nor ISO 8601"]
    resumed = list(IterableSource(pairs()).chunks(["int", "string"], 3, chunks[2].start))
    assert points_of(resumed)[0][0] == [(t, t * 2) for t in range(6, 10)]


def test_dataframe_source_uses_the_index_and_skips_missing_cells():
    pd = pytest.importorskip("pandas")
    index = pd.date_range("2015-01-22T05:56:12Z", periods=4, freq="min")
    frame = pd.DataFrame({"temp": [1.0, None, 3.0, 4.0], "count": pd.array([1, 2, None, 4], dtype="Int64")},
                         index=index)
    source = source_of(frame)
    assert source.targets == ["temp", "count"]
    points, errors = points_of(source.chunks(["float", "int"], 4))
    t0 = 1421906172
    assert points == {0: [(t0, 1.0), (t0 + 120, 3.0), (t0 + 180, 4.0)], 1: [(t0, 1), (t0 + 60, 2), (t0 + 180, 4)]}
    assert errors == []
    assert isinstance(source, DataFrameSource)


class Pipe(io.BytesIO):
    def seekable(self):
        return False


def test_csv_header_from_a_stream_that_cannot_rewind():
    text = b"time,v\n1400000000,1.5\n1400000060,2.5\n"
    points, errors = points_of(CsvSource(Pipe(text), header=True).chunks(["float"], 1))
    assert points == {0: [(1400000000, 1.5), (1400000060, 2.5)]} and errors == []
    source = CsvSource(Pipe(text), header=True)   # a resume: the same input again, read on from a position
    resumed = list(source.chunks(["float"], 1, {"offset": len(b"time,v\n1400000000,1.5\n"), "line": 2}))
    assert points_of(resumed)[0] == {0: [(1400000060, 2.5)]} and resumed[0].label == "lines 3-3"


def test_csv_pandas_reader_with_unused_columns_agrees_with_the_row_reader():
    pd = pytest.importorskip("pandas")
    text = "".join(f"note{i},{2000 + i},{i / 8}\n" for i in range(300))
    source = csv_source(text, {2: "v"}, time_column=1)
    fast = source._checked_parts(np, source._read_pandas(pd, text.encode()), 300, ["float"], 1)
    slow, errors, _, _ = source._parse_rows(text.encode().split(b"\n")[:300], 1, ["float"])
    assert errors == [] and fast[0].ts.tolist() == list(slow[0].ts) and fast[0].values.tolist() == list(slow[0].values)
