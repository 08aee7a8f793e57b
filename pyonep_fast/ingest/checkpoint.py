"""The checkpoint file of a bulk ingest: what the server has acknowledged.

Chunks are numbered in input order and complete out of order over several
connections, so the file records
  * the low-water mark: the input position after the longest run of chunks
    0..k that were all acknowledged, with the reader's state there (the
    expected counts and checksums per dataport for --verify, counters),
    and how far along the input that is (`progress`: done and total in the
    source's units, as its progress bar counts; the portal shows it);
  * the chunks after k that were acknowledged too, by number, with what
    they reported (points, refused points).
A resumed ingest reads the input again from the low-water position, cutting
the same chunks (same source, same chunk size: both are checked), and sends
every chunk not listed: nothing acknowledged is sent twice and nothing
unacknowledged is skipped. Re-sending a chunk whose acknowledgement was lost
is harmless: a recordbatch of the same timestamps replaces the same points.

Writes are atomic and durable: a temporary file in the same directory,
fsync, rename over the old file, fsync of the directory.
"""
import json
import os
import tempfile

from ..exceptions import IngestError

VERSION = 2   # 2: the fingerprint holds the target (the RIDs of the client and dataports) beside the input


#: The parts of a target's identity (sinks.*Sink.identity), as a refusal names them.
TARGET_PARTS = {"api": "API", "client": "CIK's client", "dataports": "dataports", "url": "server URL",
                "key": "API key", "device": "device", "streams": "streams"}

RESTART = "start over with --restart (restart=True), or give another checkpoint file"


class Checkpoint:
    def __init__(self, path):
        self.path = os.fspath(path)

    def load(self, fingerprint, chunk_points):
        """The saved state, or None if there is none; IngestError if it
        belongs to another target ({"target": ..., "input": ...} differ) or
        another chunk size."""
        try:
            with open(self.path, encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IngestError(f"checkpoint {self.path}: unreadable ({exc}); {RESTART}") from None
        if not isinstance(state, dict) or state.get("version") != VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise IngestError(f"checkpoint {self.path}: version {version!r}, not {VERSION}; {RESTART}")
        saved = state["fingerprint"]
        if saved["target"] != fingerprint["target"]:
            what = [name for key, name in TARGET_PARTS.items()
                    if saved["target"].get(key) != fingerprint["target"].get(key)]
            raise IngestError(f"checkpoint {self.path} belongs to another target (not the same {' or '.join(what)}"
                              f", on this server or another): {RESTART}")
        if saved["input"] != fingerprint["input"]:
            raise IngestError(f"checkpoint {self.path} belongs to another input (or the input changed since): "
                              f"{RESTART}")
        if state["chunk_points"] != chunk_points:
            raise IngestError(f"checkpoint {self.path} was written with chunk size {state['chunk_points']}, "
                              f"not {chunk_points}: resume with the same chunk size, or {RESTART}")
        return state

    def save(self, state):
        self.write(self.encode(state))

    @staticmethod
    def encode(state):
        return json.dumps(dict(state, version=VERSION), separators=(",", ":"))

    def write(self, text):
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(prefix=".ingest-checkpoint-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
