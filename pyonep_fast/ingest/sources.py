"""Where bulk ingest reads points from: CSV, NumPy arrays, pandas, iterables.

Every source names the dataports it feeds (`targets`: an alias, or an RID
as 40 hex digits), says how far along a position is for the progress bar
(`progress_total()`, `progress_at(start)`, in units of `Chunk.progress`)
and cuts its input into `Chunk`s: the points of a
deterministic run of input rows, already converted and checked against the
rules of spec §2.3/§3.4, plus one message per row or cell it could not use
(naming the CSV line or the item). A chunk also carries where it starts and
ends in the input (`start`/`end`, JSON-able), which is what the checkpoint
stores: `chunks(start=...)` continues from there and cuts the same chunks.

Rules applied before anything is sent: those of `rules` (timestamps, values
per dataport kind), and:
  * an empty CSV cell, or a missing value (NaN/None/NA) in a DataFrame, is
    no sample for that dataport at that time, not an error;
  * a CSV record is one line (quoted fields may hold the delimiter, not a
    line break); blank lines are skipped.

Reading CSV: blocks of plain numeric rows go through a C reader, pandas'
(when installed and every value column is a float dataport: 4x faster than
NumPy's) or NumPy's loadtxt; a block they refuse, or whose values break a
rule above, is read again row by row by the reference reader, which names
each line it cannot use. Both paths give the same points (tested).
"""
import csv
import io
import itertools
import numbers
import os
import re
import sys
import warnings
from array import array

from .columns import COLUMNS, NumpyColumns
from ..exceptions import IngestError
from .rules import (EXACT_FLOAT, INT64_MAX, PLAUSIBLE_LIMIT, STRING_MAX_BYTES, ImplausibleTime, coerce_timestamp,
                    coerce_value, parse_timestamp, parse_value, time_factor, zone)

RID_PATTERN = re.compile(r"[0-9a-f]{40}")
BOM = b"\xef\xbb\xbf"
BYTES_PER_POINT = 12    # CSV bytes per chunk and point asked for ("t,v\n" ~ 20 bytes, wider rows less per point)
SAMPLE_ROWS = 1000      # rows read to pick a new dataport's format (create)


def kind_of_cells(cells):
    """The dataport kind for sample values (text or objects): "int" if all
    are integers, "float" if all are numbers, else "string"."""
    kinds = set()
    for cell in cells:
        if isinstance(cell, str):
            if not cell.strip():
                continue
            try:
                kinds.add(type(parse_value(cell, "int")) if cell.strip().lstrip("+-").isdigit()
                          else type(parse_value(cell, "float")))
            except ValueError:
                return "string"
        elif isinstance(cell, bool) or not isinstance(cell, numbers.Real):
            return "string"
        else:
            kinds.add(int if isinstance(cell, numbers.Integral) else float)
    return "int" if kinds == {int} else "float" if kinds else "string"


def resource_of(target):
    """The RPC ResourceID of a target: an RID as is, anything else an alias."""
    if isinstance(target, dict):
        return target
    return target if RID_PATTERN.fullmatch(target) else {"alias": target}


class Part:
    """The points of one target within a chunk (parallel columns)."""

    __slots__ = ("target", "ts", "values")

    def __init__(self, target, ts, values):
        self.target = target
        self.ts = ts
        self.values = values


class Chunk:
    """`errors`: a message per row or cell not used; `late`: how many of
    them are timestamps after the year 3000 (a unit mistake); `extra`: rows
    with more fields than the input's columns (their extra fields unused)."""

    __slots__ = ("start", "end", "label", "parts", "errors", "progress", "late", "extra")

    def __init__(self, start, end, label, parts, errors, progress, late=0, extra=0):
        self.start = start
        self.end = end
        self.label = label
        self.parts = parts
        self.errors = errors
        self.progress = progress
        self.late = late
        self.extra = extra


# ---------------------------------------------------------------- columns

class _NeedsCheck(Exception):
    """The bulk conversion cannot vouch for every item: check one by one."""


def _numpy():
    return COLUMNS.np if isinstance(COLUMNS, NumpyColumns) else None


def _pandas():
    """pandas if installed (its C CSV reader parses float blocks fastest)."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _bulk_timestamps(seq, factor):
    np = _numpy()
    if np is not None and isinstance(seq, np.ndarray):
        if seq.dtype.kind == "M":
            seconds = seq.astype("datetime64[s]")
            if np.isnat(seq).any() or (seconds != seq).any():
                raise _NeedsCheck
            seq, factor = seconds.view(np.int64), 1
        elif seq.dtype.kind == "u":
            if seq.size and seq.max() > INT64_MAX:
                raise _NeedsCheck
        elif seq.dtype.kind != "i":
            raise _NeedsCheck
        ts = np.ascontiguousarray(seq, dtype=np.int64)
        ts = COLUMNS.timestamps(ts // factor if factor != 1 else ts)
        if ts.size and (ts.min() < 0 or ts.max() >= PLAUSIBLE_LIMIT):
            raise _NeedsCheck
        return ts
    try:
        ts = seq if isinstance(seq, array) and seq.typecode == "q" else array("q", seq)
    except (TypeError, OverflowError, ValueError):
        raise _NeedsCheck from None
    if factor != 1:
        ts = array("q", (t // factor for t in ts))
    if len(ts) and (min(ts) < 0 or max(ts) >= PLAUSIBLE_LIMIT):
        raise _NeedsCheck
    return COLUMNS.timestamps(ts)


def _bulk_values(seq, kind):
    np = _numpy()
    if kind == "string":
        values = list(seq)
        if not all(type(v) is str and len(v) <= STRING_MAX_BYTES // 4 for v in values):
            raise _NeedsCheck  # (short strings are surely under 64 KB of UTF-8)
        return values
    if np is not None and isinstance(seq, np.ndarray):
        if kind == "int" and seq.dtype.kind == "u" and seq.size and seq.max() > INT64_MAX:
            raise _NeedsCheck
        if seq.dtype.kind not in ("iu" if kind == "int" else "iuf"):
            raise _NeedsCheck
        values = COLUMNS.values(np.ascontiguousarray(seq), kind)
    else:
        code = "q" if kind == "int" else "d"
        try:
            values = COLUMNS.values(seq if isinstance(seq, array) and seq.typecode == code else array(code, seq), kind)
        except (TypeError, OverflowError, ValueError):
            raise _NeedsCheck from None
    if kind == "float" and COLUMNS.first_nonfinite(values) >= 0:
        raise _NeedsCheck
    return values


def convert_column(timestamps, values, kind, describe, unit="s"):
    """(timestamps, values) of any supported type -> checked columns, one
    error message per item that cannot be stored, and how many of those are
    timestamps after the year 3000; describe(i) names item i for the messages."""
    if len(timestamps) != len(values):
        raise ValueError(f"{describe(0)}: {len(timestamps)} timestamps but {len(values)} values")
    try:
        return _bulk_timestamps(timestamps, time_factor(unit)), _bulk_values(values, kind), [], 0
    except _NeedsCheck:
        pass
    good_ts, good_values, errors, late = [], [], [], 0
    for i, (t, v) in enumerate(zip(_items(timestamps), _items(values))):
        try:
            t = coerce_timestamp(t, unit)
            v = coerce_value(v, kind)
        except ValueError as exc:
            late += isinstance(exc, ImplausibleTime)
            errors.append(f"{describe(i)}: {exc}")
            continue
        good_ts.append(t)
        good_values.append(v)
    return COLUMNS.timestamps(array("q", good_ts)), COLUMNS.values(good_values, kind), errors, late


def _items(seq):
    np = _numpy()
    if np is not None and isinstance(seq, np.ndarray) and seq.dtype.kind != "M":
        return seq.tolist()
    return seq


# ---------------------------------------------------------------- CSV

class CsvSource:
    """A CSV file (or binary stream, or "-" for stdin): one timestamp column
    and value columns mapped to dataports.

    columns: a list of targets for the value columns in order (the columns
    other than the time column, exoline's `timestamp,value` being the
    simplest case); or a dict {column: target} where a column is a header
    name or a 0-based index; or None with header=True: every other column,
    its header name being the alias.
    """

    def __init__(self, file, columns=None, *, time_column=0, header=False, delimiter=",", time_unit="s",
                 input_name=None, tz=None):
        if len(delimiter) != 1 or delimiter in "\r\n\"":
            raise ValueError(f"CSV delimiter must be one character other than a quote or a line break, "
                             f"not {delimiter!r}")
        self.file = file
        self.delimiter = delimiter
        self.header = header
        self.time_unit = time_unit
        self.factor = time_factor(time_unit)
        self.input_name = input_name
        self.tz_name = tz
        self.tz = zone(tz) if tz else None
        self._header_end = 0
        self._consumed = 0   # bytes already read from a stream we cannot rewind (the header)
        names = self._read_header() if header else None
        self.width, width_line = (len(names), 1) if names else self._first_width()
        self.time_index = self._index(time_column, names)
        if columns is None:
            if names is None:
                raise ValueError("CSV columns: give the targets, or header=True to use the header names")
            columns = {name: name for i, name in enumerate(names) if i != self.time_index}
        if not isinstance(columns, dict):
            width = len(columns) + 1
            others = [i for i in range(width + 1) if i != self.time_index][: len(columns)]
            columns = dict(zip(others, columns))
        self.value_indexes = [self._index(column, names) for column in columns]
        self.targets = [str(t) if not isinstance(t, dict) else t for t in columns.values()]
        self.column_names = [names[i] if names else f"column {i + 1}" for i in self.value_indexes]
        used = [self.time_index, *self.value_indexes]
        if len(set(used)) != len(used):
            raise ValueError("CSV columns: a column is used twice (time column included)")
        if not self.targets:
            raise ValueError("CSV columns: no value column to ingest")
        self.max_index = max(used)
        if self.width is not None and self.max_index >= self.width:
            raise IngestError(f"{len(self.targets)} target(s) need column {self.max_index + 1}, but the input has "
                              f"{self.width} column(s) (line {width_line})")
        #: Columns of the input that feed no dataport (reported, not an error).
        self.unused_columns = [] if self.width is None else [
            names[i] if names else f"column {i + 1}" for i in range(self.width) if i not in used]

    @staticmethod
    def _index(column, names):
        if isinstance(column, int) and not isinstance(column, bool):
            if column < 0:
                raise ValueError(f"CSV column index {column} is negative")
            return column
        if names is None or column not in names:
            raise ValueError(f"CSV column {column!r} is not in the header" if names else
                             f"CSV column {column!r}: name columns only with header=True")
        return names.index(column)

    def _open(self):
        if self.file == "-":
            return sys.stdin.buffer, False
        if isinstance(self.file, (str, os.PathLike)):
            return open(self.file, "rb"), True
        return self.file, False

    def _read_header(self):
        stream, owned = self._open()
        try:
            line = stream.readline()
        finally:
            if owned:
                stream.close()
        self._header_end = len(line)
        if not owned:
            self._consumed = len(line)
        try:
            text = line.removeprefix(BOM).decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise IngestError("the header line is not UTF-8 text") from None
        if not text.strip():
            raise IngestError("the header line is empty")
        return [name.strip() for name in next(csv.reader([text], delimiter=self.delimiter))]

    def _first_width(self):
        """(fields of the first line, 1), read without consuming a stream
        (peeked when it can be; else (None, None): not checked)."""
        if isinstance(self.file, (str, os.PathLike)) and self.file != "-":
            with open(self.file, "rb") as f:
                line = f.readline(1 << 20)
        else:
            stream = sys.stdin.buffer if self.file == "-" else self.file
            peek = getattr(stream, "peek", None)
            line = peek(1 << 16) if peek else b""
            if b"\n" not in line:
                return None, None
            line = line[:line.index(b"\n")]
        try:
            text = line.removeprefix(BOM).decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            return None, None
        if not text.strip():
            return None, None
        return len(next(csv.reader([text], delimiter=self.delimiter))), 1

    def fingerprint(self):
        """What the input is (format, columns, targets) and which input it is
        ("identity": the file's path, size and modification time, or the
        name given for it; None for an unnamed stream)."""
        info = {"source": "csv", "time_column": self.time_index, "columns": self.value_indexes,
                "targets": self.targets, "delimiter": self.delimiter, "header": self.header,
                "time_unit": self.time_unit, "tz": self.tz_name, "identity": None}
        if self.input_name is not None:
            info["identity"] = {"name": self.input_name}
        elif isinstance(self.file, (str, os.PathLike)) and self.file != "-":
            stat = os.stat(self.file)
            info["identity"] = {"path": os.path.abspath(self.file), "size": stat.st_size,
                                "mtime_ns": stat.st_mtime_ns}
        return info

    def sample_kinds(self, rows=SAMPLE_ROWS):
        """The value kind each value column's first rows fit (kind_of_cells)."""
        if isinstance(self.file, (str, os.PathLike)) and self.file != "-":
            with open(self.file, "rb") as f:
                f.seek(self._header_end)
                block = b"".join(itertools.islice(f, rows))
        else:
            stream = sys.stdin.buffer if self.file == "-" else self.file
            peek = getattr(stream, "peek", None)
            block = peek(1 << 16) if peek else b""
            block = block[:block.rfind(b"\n") + 1]
        cells = [[] for _ in self.value_indexes]
        for raw in block.split(b"\n")[:rows]:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            fields = next(csv.reader([text], delimiter=self.delimiter)) if text.strip() else []
            if len(fields) > self.max_index:
                for column, index in zip(cells, self.value_indexes):
                    column.append(fields[index])
        return [kind_of_cells(column) for column in cells]

    def progress_total(self):
        """(total, unit) of the progress bar: the data bytes (None: unknown)."""
        if isinstance(self.file, (str, os.PathLike)) and self.file != "-":
            return os.stat(self.file).st_size - self._header_end, "B"
        return None, "B"

    def progress_at(self, start):
        return start["offset"] - self._header_end if start else 0

    def chunks(self, kinds, chunk_points, start=None):
        """Chunks of whole lines, each within chunk_points * BYTES_PER_POINT
        bytes (a longer line goes alone): cut from the bytes alone, so a
        resumed read from a chunk's start cuts the same chunks again."""
        budget = max(1, chunk_points * BYTES_PER_POINT)
        stream, owned = self._open()
        try:
            offset, line = (start["offset"], start["line"]) if start else (self._header_end, int(self.header))
            if offset:
                self._skip_to(stream, owned, offset)
            rest = b""
            while True:
                data = stream.read(max(budget - len(rest), 0))
                block = rest + data
                if not block:
                    return
                cut = block.rfind(b"\n") + 1 if data else len(block)
                while not cut:  # one line longer than the budget
                    more = stream.readline()
                    block += more
                    cut = len(block) if not more or more.endswith(b"\n") else 0
                block, rest = block[:cut], block[cut:]
                lines = block.count(b"\n") + (not block.endswith(b"\n"))
                text = block[len(BOM):] if offset == 0 and block.startswith(BOM) else block
                parts, errors, late, extra = self._parse(text, lines, line + 1, kinds)
                end = {"offset": offset + len(block), "line": line + lines}
                yield Chunk({"offset": offset, "line": line}, end, f"lines {line + 1}-{line + lines}",
                            parts, errors, len(block), late, extra)
                offset, line = end["offset"], end["line"]
        finally:
            if owned:
                stream.close()

    def _skip_to(self, stream, seekable, offset):
        if seekable or stream.seekable():
            stream.seek(offset)
            return
        left = offset - self._consumed
        while left > 0:
            block = stream.read(min(left, 1 << 20))
            if not block:
                raise ValueError("the input ends before the checkpoint's position: is it the same input?")
            left -= len(block)

    def _parse(self, block, lines, first_line, kinds):
        """(parts, errors, late, extra) of a block of whole lines."""
        np = _numpy()
        # every line as wide as the first (no blank line, no extra field): the bulk readers may take it
        regular = self.width is not None and block.count(self.delimiter.encode()) == lines * (self.width - 1)
        if np is not None and regular and "string" not in kinds and b'"' not in block:
            pd = _pandas() if all(kind == "float" for kind in kinds) else None
            table = self._read_pandas(pd, block) if pd is not None else self._read_numpy(np, block, kinds)
            parts = self._checked_parts(np, table, lines, kinds, self.factor) if table is not None else None
            if parts is not None:
                return parts, [], 0, 0
        return self._parse_rows(block.split(b"\n")[:lines], first_line, kinds)

    def _read_pandas(self, pd, block):
        """(time column as float64, [value columns]) by pandas' C reader (4x
        NumPy's speed on float columns), or None if it refuses the block."""
        import numpy as np

        used = [self.time_index, *self.value_indexes]
        options = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
        first_line = block[:block.find(b"\n")]
        if sorted(used) == list(range(first_line.count(self.delimiter.encode()) + 1)):
            options["dtype"] = np.float64   # every column is used: the reader's quickest form
        else:
            options.update(usecols=used, dtype={i: np.float64 for i in used})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                frame = pd.read_csv(io.BytesIO(block), sep=self.delimiter, header=None, na_filter=False,
                                    engine="c", skip_blank_lines=False, **options)
        except (ValueError, OverflowError, UnicodeError, Warning, pd.errors.ParserError):
            return None
        return frame[self.time_index].to_numpy(), [frame[i].to_numpy() for i in self.value_indexes]

    def _read_numpy(self, np, block, kinds):
        """The same by NumPy's loadtxt (time and int columns as int64)."""
        dtype = [("t", np.int64)] + [(f"v{i}", np.int64 if k == "int" else np.float64) for i, k in enumerate(kinds)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                table = np.loadtxt(io.BytesIO(block), delimiter=self.delimiter, dtype=dtype, comments=None,
                                   usecols=[self.time_index, *self.value_indexes], ndmin=1)
        except (ValueError, OverflowError, UnicodeError, Warning):
            return None
        return table["t"], [table[f"v{i}"] for i in range(len(kinds))]

    @staticmethod
    def _checked_parts(np, table, rows, kinds, factor):
        """Parts for a table that holds every row and only storable points,
        else None (the row reader then says what is wrong, line by line)."""
        times, columns = table
        if len(times) != rows:
            return None
        if times.dtype.kind == "f":
            if not (np.isfinite(times).all() and (times >= 0).all() and (times < EXACT_FLOAT).all()
                    and (factor != 1 or (np.floor(times) == times).all())):
                return None
            times = np.floor(times / factor).astype(np.int64) if factor != 1 else times.astype(np.int64)
        else:
            times = times // factor if factor != 1 else times
            if len(times) and times.min() < 0:
                return None
        if len(times) and times.max() >= PLAUSIBLE_LIMIT:
            return None
        ts = np.ascontiguousarray(times)
        parts = []
        for i, (values, kind) in enumerate(zip(columns, kinds)):
            if kind == "float" and not np.isfinite(values).all():
                return None
            parts.append(Part(i, ts, np.ascontiguousarray(values)))
        return parts

    def _parse_rows(self, lines, first_line, kinds):
        columns = [([], []) for _ in kinds]
        errors = []
        late = extra = 0
        for number, raw in enumerate(lines, first_line):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                errors.append(f"line {number}: not valid UTF-8")
                continue
            if not text.strip():
                continue
            fields = next(csv.reader([text], delimiter=self.delimiter)) if '"' in text else text.split(self.delimiter)
            if len(fields) <= self.max_index:
                errors.append(f"line {number}: {len(fields)} fields, expected at least {self.max_index + 1}")
                continue
            if self.width is not None and len(fields) > self.width:
                extra += 1
            try:
                t = parse_timestamp(fields[self.time_index], self.time_unit, self.tz)
            except ValueError as exc:
                late += isinstance(exc, ImplausibleTime)
                errors.append(f"line {number}: {exc}")
                continue
            for (ts, values), index, kind, name in zip(columns, self.value_indexes, kinds, self.column_names):
                cell = fields[index]
                if not cell.strip():
                    continue
                try:
                    values.append(parse_value(cell, kind))
                except ValueError as exc:
                    errors.append(f"line {number}, {name}: {exc}")
                    continue
                ts.append(t)
        parts = [Part(i, COLUMNS.timestamps(array("q", ts)), COLUMNS.values(values, kind))
                 for i, ((ts, values), kind) in enumerate(zip(columns, kinds)) if ts]
        return parts, errors, late, extra


# ---------------------------------------------------------------- in memory

class ArraySource:
    """{target: (timestamps, values)} of NumPy arrays, array.array or
    sequences; each target's points are cut into chunks in turn."""

    def __init__(self, series, *, time_unit="s", input_name=None):
        self.series = [(str(t) if not isinstance(t, dict) else t, ts, values) for t, (ts, values) in series.items()]
        for target, ts, values in self.series:
            if len(ts) != len(values):
                raise ValueError(f"{target}: {len(ts)} timestamps but {len(values)} values")
        self.targets = [t for t, _, _ in self.series]
        self.time_unit = time_unit
        self.input_name = input_name
        time_factor(time_unit)

    def fingerprint(self):
        identity = {"name": self.input_name} if self.input_name is not None else {
            "digests": [[_digest(ts), _digest(values)] for _, ts, values in self.series]}
        return {"source": "arrays", "targets": self.targets, "lengths": [len(ts) for _, ts, _ in self.series],
                "time_unit": self.time_unit, "identity": identity}

    def sample_kinds(self):
        return [_kind_of_column(values) for _, _, values in self.series]

    def progress_total(self):
        return sum(len(ts) for _, ts, _ in self.series), "pt"

    def progress_at(self, start):
        return start["row"] if start else 0

    def chunks(self, kinds, chunk_points, start=None):
        row = start["row"] if start else 0
        base = 0
        for index, (target, ts, values) in enumerate(self.series):
            for a in range(max(row - base, 0), len(ts), chunk_points):
                b = min(a + chunk_points, len(ts))
                ts_part, value_part, errors, late = convert_column(
                    ts[a:b], values[a:b], kinds[index], lambda i, a=a, target=target: f"{target}: item {a + i}",
                    self.time_unit)
                parts = [Part(index, ts_part, value_part)] if len(ts_part) else []
                yield Chunk({"row": base + a}, {"row": base + b}, f"{target} items {a}-{b - 1}", parts, errors, b - a,
                            late)
            base += len(ts)


class IterableSource:
    """{target: iterable of (timestamp, value)}, read once, in turn, in
    chunks; resuming consumes (and skips) what the checkpoint says was done,
    so it needs the same iterables again."""

    def __init__(self, series, *, time_unit="s", input_name=None):
        self.series = [(str(t) if not isinstance(t, dict) else t, pairs) for t, pairs in series.items()]
        self.targets = [t for t, _ in self.series]
        self.time_unit = time_unit
        self.input_name = input_name
        time_factor(time_unit)

    def fingerprint(self):
        """Iterables cannot be told apart without reading them: only a name
        given for them identifies them (identity None without one)."""
        return {"source": "iterables", "targets": self.targets, "time_unit": self.time_unit,
                "identity": None if self.input_name is None else {"name": self.input_name}}

    def sample_kinds(self):
        raise IngestError("dataports cannot be created for iterables (their values cannot be read twice): "
                          "give kinds={target: 'int'|'float'|'string'} or create them first")

    def progress_total(self):
        return None, "pt"

    def progress_at(self, start):
        return start["item"] if start else 0

    def chunks(self, kinds, chunk_points, start=None):
        skip = start["item"] if start else 0
        base = 0
        for index, (target, pairs) in enumerate(self.series):
            iterator = iter(pairs)
            done = sum(1 for _ in itertools.islice(iterator, skip)) if skip else 0
            skip -= done
            a = done
            while True:
                batch = list(itertools.islice(iterator, chunk_points))
                if not batch:
                    break
                b = a + len(batch)
                ts, values, errors = [], [], []
                for i, pair in enumerate(batch, a):
                    try:
                        t, v = pair
                    except (TypeError, ValueError):
                        errors.append(f"{target}: item {i}: expected a (timestamp, value) pair, got {pair!r:.80}")
                        continue
                    ts.append(t)
                    values.append(v)
                ts_part, value_part, more, late = convert_column(ts, values, kinds[index],
                                                                 lambda i: f"{target}: item {a + i}", self.time_unit)
                errors.extend(more)
                parts = [Part(index, ts_part, value_part)] if len(ts_part) else []
                yield Chunk({"item": base + a}, {"item": base + b}, f"{target} items {a}-{b - 1}", parts, errors, b - a,
                            late)
                a = b
            base += a


class DataFrameSource:
    """A pandas DataFrame: the time is the index (or `time_column`), each
    other column (or those in `columns`: a list of names, or {name:
    target}) feeds a dataport; missing values are skipped."""

    def __init__(self, frame, columns=None, *, time_column=None, time_unit="s", input_name=None):
        self.frame = frame
        self.time_unit = time_unit
        self.input_name = input_name
        time_factor(time_unit)
        names = [c for c in frame.columns if c != time_column]
        if columns is None:
            columns = {c: str(c) for c in names}
        elif not isinstance(columns, dict):
            columns = {c: str(c) for c in columns}
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"DataFrame has no column {missing[0]!r}")
        self.columns = list(columns)
        self.targets = list(columns.values())
        self.time_column = time_column

    def fingerprint(self):
        if self.input_name is not None:
            identity = {"name": self.input_name}
        else:
            import pandas

            identity = {"digest": int(pandas.util.hash_pandas_object(self.frame).sum())}
        return {"source": "dataframe", "rows": len(self.frame), "columns": [str(c) for c in self.columns],
                "targets": self.targets, "time_unit": self.time_unit, "identity": identity}

    def sample_kinds(self):
        return [_kind_of_column(self.frame[column].dropna().to_numpy()) for column in self.columns]

    def progress_total(self):
        return len(self.frame), "row"

    def progress_at(self, start):
        return start["row"] if start else 0

    def _times(self):
        times = self.frame.index if self.time_column is None else self.frame[self.time_column]
        if getattr(times.dtype, "tz", None) is not None:
            times = (times.tz_convert("UTC") if self.time_column is None else times.dt.tz_convert("UTC"))
            times = times.tz_localize(None) if self.time_column is None else times.dt.tz_localize(None)
        return times.to_numpy()

    def chunks(self, kinds, chunk_points, start=None):
        times = self._times()
        rows = max(1, chunk_points // len(self.columns))
        for a in range(start["row"] if start else 0, len(self.frame), rows):
            b = min(a + rows, len(self.frame))
            parts, errors, late = [], [], 0
            for index, (column, kind) in enumerate(zip(self.columns, kinds)):
                cells = self.frame[column].iloc[a:b]
                present = cells.notna().to_numpy()
                # nullable integer columns would come out as floats
                integers = kind == "int" and cells.dtype.kind in "iu"
                values = cells[present].to_numpy(dtype="int64" if integers else None)
                ts, values, bad, bad_times = convert_column(times[a:b][present], values, kind,
                                                            lambda i, column=column, rows=present.nonzero()[0]:
                                                            f"row {a + int(rows[i])}, {column}", self.time_unit)
                errors.extend(bad)
                late += bad_times
                if len(ts):
                    parts.append(Part(index, ts, values))
            yield Chunk({"row": a}, {"row": b}, f"rows {a}-{b - 1}", parts, errors, b - a, late)


def _kind_of_column(values):
    """kind_of_cells of a column: from its dtype when it has a numeric one."""
    dtype = getattr(values, "dtype", None)
    if dtype is not None and dtype.kind in "iu":
        return "int"
    if dtype is not None and dtype.kind == "f":
        return "float"
    if isinstance(values, array):
        return "float" if values.typecode in "fd" else "int"
    return kind_of_cells(list(itertools.islice(values, SAMPLE_ROWS)))


def _digest(seq):
    """A digest of a column's contents (its bytes when it has a buffer, else its items' text)."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    try:
        digest.update(memoryview(seq).cast("B"))
    except (TypeError, ValueError):
        for item in seq:
            digest.update(repr(item).encode("utf-8", "backslashreplace") + b"\0")
    return digest.hexdigest()


def source_of(data, columns=None, **options):
    """The Source for `data`: a Source as is; a path (str/PathLike) or "-"
    -> CsvSource; a pandas DataFrame -> DataFrameSource; a dict of
    (timestamps, values) -> ArraySource; a dict of iterables of pairs ->
    IterableSource."""
    if hasattr(data, "chunks") and hasattr(data, "targets"):
        return data
    if isinstance(data, (str, os.PathLike)):
        return CsvSource(data, columns, **options)
    if type(data).__name__ == "DataFrame" and "pandas" in sys.modules:
        return DataFrameSource(data, columns, **options)
    if isinstance(data, dict):
        def is_pair(v):
            return isinstance(v, tuple) and len(v) == 2 and all(hasattr(x, "__len__") for x in v)
        if all(is_pair(v) for v in data.values()):
            return ArraySource(data, **options)
        return IterableSource(data, **options)
    raise TypeError(f"cannot ingest from {type(data).__name__}: give a CSV path, a DataFrame, "
                    "a dict of (timestamps, values) or a dict of iterables of (timestamp, value)")
