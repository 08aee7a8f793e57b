"""OnepV1, the Datastore and bulk ingest share one call engine: against a
server that answers every call out of order, after an entry whose id no
call has and before a contradicting duplicate of each entry, all three
match each answer to its call by id, take the first entry for an id, and
number their calls from the one client's id counter. A call that no entry
answers is left out by OnepV1 (pyonep's convention) and is "no answer" to
the Datastore and ingest."""
import orjson
import pytest

from pyonep_fast.datastore import Datastore
from pyonep_fast.ingest import ingest
from pyonep_fast.onep import OnepV1
from scripted_http import ScriptedServer, http_response

CIK = "5de0cfcf7b5bed2ea7a8aa00112233445566778f"
RIDS = {"kept": "1" * 40, "refused": "2" * 40, "silent": "3" * 40}
NAMES = {rid: name for name, rid in RIDS.items()}


def answer(call):
    """The true answer to a call: recordbatches into "refused" have their
    first point refused, those into "silent" get none (None); lookups and
    infos describe float dataports."""
    procedure, arguments = call["procedure"], call["arguments"]
    if procedure == "lookup":
        return {"status": "ok", "result": RIDS[arguments[1]]}
    if procedure == "info":
        return {"status": "ok", "result": {"description": {"format": "float"}}}
    if procedure == "recordbatch":
        resource = arguments[0]
        name = resource["alias"] if isinstance(resource, dict) else NAMES[resource]
        if name == "refused":
            return {"status": [[arguments[1][0][0], "invalid"]]}
        if name == "silent":
            return None
    return {"status": "ok"}


def out_of_order(request):
    calls = orjson.loads(request.body)["calls"]
    entries = [{"id": max(c["id"] for c in calls) + 1000, "status": "ok"}]           # no call has this id
    answered = [(c, answer(c)) for c in reversed(calls)]
    entries += [dict(a, id=c["id"]) for c, a in answered if a is not None]
    entries += [{"id": c["id"], "status": "contradicting duplicate"} for c, a in answered if a is not None]
    return http_response(orjson.dumps(entries))


@pytest.fixture
def scrambling():
    with ScriptedServer(out_of_order) as server:
        yield server


def wire_calls(server):
    return [orjson.loads(r.body)["calls"] for r in server.requests]


def test_onepv1_deferred_and_single_calls(scrambling):
    onep = OnepV1(host="127.0.0.1", port=str(scrambling.port), https=False, startid=40)
    for name in ("kept", "kept", "refused"):
        onep.recordbatch(CIK, {"alias": name}, [[10, 1.5]], defer=True)
    triples = onep.send_deferred(CIK)
    assert [(call["id"], isok, value) for call, isok, value in triples] == [
        (40, True, "ok"), (41, True, "ok"), (42, False, [[10, "invalid"]])]
    assert onep.recordbatch(CIK, {"alias": "refused"}, [[7, 2.0]]) == (False, [[7, "invalid"]])
    assert onep.lookup(CIK, "alias", "kept") == (True, RIDS["kept"])
    assert [[c["id"] for c in calls] for calls in wire_calls(scrambling)] == [[40, 41, 42], [43], [44]]


def test_ingest(scrambling, tmp_path):
    client = OnepV1(host="127.0.0.1", port=str(scrambling.port), https=False, startid=500)
    csv = tmp_path / "history.csv"
    csv.write_text("time,refused,kept,other\n1,,1.0,\n2,,2.0,\n3,,3.0,7.0\n4,4.0,,\n5,5.0,,\n")  # one request
    kinds = dict.fromkeys(("refused", "kept", "other"), "float")
    report = ingest(CIK, str(csv), header=True, client=client, kinds=kinds, progress=False)
    assert report.complete and not report.failed_chunks
    assert report.refused == [("refused", 4, "invalid")]
    assert report.points == 5
    assert [[(c["id"], c["arguments"][0]) for c in calls] for calls in wire_calls(scrambling)] == [
        [(500, {"alias": "refused"}), (501, {"alias": "kept"}), (502, {"alias": "other"})]]


def test_datastore(scrambling):
    transport = {"host": "127.0.0.1", "port": str(scrambling.port)}
    store = Datastore(CIK, 1, transport=transport)
    store.record("refused", [[20, 2.5], [21, 3.5]])
    store.record("kept", [[20, 1.5]])
    assert store.close() == {"refused": [(20, 2.5, "invalid")]}
    recorded = [c for calls in wire_calls(scrambling) for c in calls if c["procedure"] == "recordbatch"]
    assert sorted((NAMES[c["arguments"][0]], c["arguments"][1]) for c in recorded) == [
        ("kept", [[20, 1.5]]), ("refused", [[20, 2.5], [21, 3.5]])]


def test_a_call_left_unanswered(scrambling, tmp_path):
    onep = OnepV1(host="127.0.0.1", port=str(scrambling.port), https=False)
    for name in ("kept", "silent", "refused"):
        onep.recordbatch(CIK, {"alias": name}, [[10, 1.5]], defer=True)
    assert [(call["id"], isok, value) for call, isok, value in onep.send_deferred(CIK)] == [
        (0, True, "ok"), (2, False, [[10, "invalid"]])]

    csv = tmp_path / "history.csv"
    csv.write_text("time,silent,kept\n1,1.0,2.0\n")
    report = ingest(CIK, str(csv), header=True, client=onep, kinds={"silent": "float", "kept": "float"},
                    retries=0, progress=False)
    assert report.failed_chunks == [("lines 2-2", "silent: recordbatch answered 'no answer'")]

    store = Datastore(CIK, 1, transport={"host": "127.0.0.1", "port": str(scrambling.port)})
    store.record("silent", [[30, 4.5]])
    assert store.close() == {"silent": [(30, 4.5, "no answer")]}
