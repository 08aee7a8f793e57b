"""One Platform's state: the resource tree in memory, mirrored to its tables.

Everything but time series points lives in memory (loaded at start) and is
written through to the shared database (storage.Storage), inside its open
transaction; points live in the storage's series, one per dataport, datarule
or dispatch (its id is the resource row's `series`).

Each RPC call runs in `store.atomic()` (the storage's): a call that fails
changes nothing, in the database or in memory (the tree is reloaded).

Threads: the event loop thread owns the state. Other threads (tests, the
provisioning module's helpers) take `store.lock` around their use, which
every public method here does; they get their changes committed with
`commit()`.

Public API for other server modules:
  get(rid) / client_by_cik(cik) / root                  -> Resource
  create_resource(owner, type, description, now)         -> Resource
  create_fountain_client()                               -> Resource
  clone(source, owner, noaliases, nohistorical, now)     -> Resource
  drop(resource)
  create_share(resource, meta, creator) / share_by_code(code) -> Share
  watch(rid, callback) / wake(resource, columns)
  when_durable(callback), durable() (awaitable), commit(), atomic()   (the storage's)
"""
import json
import logging
import secrets
import time

from ..errors import ServerError
from . import access, descriptions, rules

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    rid TEXT UNIQUE NOT NULL,
    owner TEXT,
    type TEXT NOT NULL,
    cik TEXT,
    status TEXT,
    description TEXT NOT NULL,
    created INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    tags TEXT NOT NULL,
    comments TEXT NOT NULL,
    series INTEGER
);
CREATE TABLE IF NOT EXISTS aliases (
    holder TEXT NOT NULL, alias TEXT NOT NULL, target TEXT NOT NULL, PRIMARY KEY (holder, alias));
CREATE TABLE IF NOT EXISTS shares (
    code TEXT PRIMARY KEY, rid TEXT NOT NULL, meta TEXT NOT NULL, creator TEXT NOT NULL,
    activator TEXT, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, rid TEXT NOT NULL, permissions TEXT NOT NULL, expires INTEGER, granter TEXT);
CREATE TABLE IF NOT EXISTS referrers (rid TEXT PRIMARY KEY, client TEXT NOT NULL);
""" + rules.SCHEMA

ACTIVATED = "activated"
NOTACTIVATED = "notactivated"
EXPIRED = "expired"


def now():
    return int(time.time())


def _from_version_0(db):
    """Schema 0 -> 1. The series of a resource was keyed by its row id: it
    becomes a series of the storage's table with that same id. Tokens from
    before granters were recorded have none."""
    if "granter" not in {column[1] for column in db.execute("PRAGMA table_info(tokens)")}:
        db.execute("ALTER TABLE tokens ADD COLUMN granter TEXT")
    db.execute("ALTER TABLE resources ADD COLUMN series INTEGER")
    rows = db.execute("SELECT id, description FROM resources WHERE type != 'client'").fetchall()
    db.executemany("INSERT INTO series (id, api, kind) VALUES (?, 'onep', ?)",
                   [(row_id, descriptions.value_kind(json.loads(desc))) for row_id, desc in rows])
    db.execute("UPDATE resources SET series = id WHERE type != 'client'")


def _dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _remap(value, rids):
    """value with every string that is a key of rids replaced by its value."""
    if isinstance(value, str):
        return rids.get(value, value)
    if isinstance(value, list):
        return [_remap(v, rids) for v in value]
    if isinstance(value, dict):
        return {k: _remap(v, rids) for k, v in value.items()}
    return value


class Resource:
    """A client, dataport, datarule or dispatch."""

    __slots__ = ("id", "rid", "type", "owner", "cik", "status", "desc", "created", "modified", "tags",
                 "comments", "children", "aliases", "series", "shares", "referrer")

    def __init__(self, row_id, rid, kind, owner, cik, status, desc, created, modified, tags, comments):
        self.assign(row_id, rid, kind, owner, cik, status, desc, created, modified, tags, comments)

    def assign(self, row_id, rid, kind, owner, cik, status, desc, created, modified, tags, comments):
        """Sets every field as a fresh Resource has them (also reloads in place)."""
        self.id = row_id
        self.rid = rid
        self.type = kind
        self.owner = owner          # Resource or None (root)
        self.cik = cik
        self.status = status
        self.desc = desc
        self.created = created
        self.modified = modified
        self.tags = tags
        self.comments = comments
        self.children = {}          # rid -> Resource, in creation order
        self.aliases = {}           # clients: alias -> target rid
        self.series = None          # non-clients: timeseries.Series
        self.shares = []            # Share objects of this resource, in creation order
        self.referrer = None        # rid of the client that made its references (subscribe, preprocess)

    @property
    def is_client(self):
        return self.type == "client"

    def ancestors(self):
        node = self.owner
        while node is not None:
            yield node
            node = node.owner

    def is_within(self, client):
        """True if self is client or one of its descendants."""
        node = self
        while node is not None:
            if node is client:
                return True
            node = node.owner
        return False

    def subtree(self):
        """self and every descendant, parents before children."""
        out = [self]
        for node in out:
            out.extend(node.children.values())
        return out

    def __repr__(self):
        return f"<{self.type} {self.rid}>"


class Share:
    __slots__ = ("code", "rid", "meta", "creator", "activator", "created")

    def __init__(self, code, rid, meta, creator, activator, created):
        self.code = code
        self.rid = rid
        self.meta = meta
        self.creator = creator
        self.activator = activator
        self.created = created


class Token:
    __slots__ = ("token", "rid", "permissions", "expires", "granter", "ended")

    def __init__(self, token, rid, permissions, expires, granter):
        self.token = token
        self.rid = rid
        self.permissions = permissions   # {rid: [procedure, ...]}
        self.expires = expires           # unix seconds or None
        self.granter = granter           # the CIK or token that granted it: it dies with that
        self.ended = False               # deleted (a call holding it may still be running)

    def expired(self, at):
        return self.expires is not None and at >= self.expires

    def alive(self, at):
        return not self.ended and not self.expired(at)


class OnepState:
    SCHEMA_VERSION = 2     # 2: rule_timers and outbox (rules.py), new tables only

    def __init__(self, storage):
        self.storage = storage
        storage.schema("onep", self.SCHEMA_VERSION, SCHEMA, {0: _from_version_0}, tables=("resources",))
        self.db = storage.db
        self.lock = storage.lock
        self.touch = storage.touch
        self.commit = storage.commit
        self.when_durable = storage.when_durable
        self.durable = storage.durable
        self.atomic = storage.atomic
        self.resources = {}              # rid -> Resource
        self.by_cik = {}                 # cik -> client Resource
        self.alias_holders = {}          # target rid -> {(holder rid, alias)}
        self.subscribers = {}            # source rid -> {subscriber rid}
        self.shares = {}                 # code -> Share
        self.tokens = {}                 # token -> Token
        self.fountain_extras = []        # callables(client) -> {field: value} for the fountain's answer
        self.on_drop = []                # callables(set of dropped rids), inside drop's transaction
        self.rules = rules.Rules(self)   # timer datarules and dispatch delivery
        self._load()
        storage.on_rollback.append(self._load)
        root = storage.meta("root")
        self.root = self.resources[root] if root else self._create_root()
        self.commit()

    def _load(self, series_by_id=None):
        """Builds the in-memory tree from the database (at start, and after a
        failed call's rollback: Storage.on_rollback). Resource objects already
        known (and the Series of series_by_id) are reused, updated in place:
        requests and watchers hold them."""
        known = dict(self.resources)
        series_by_id = dict(series_by_id or {})
        series_by_id.update((res.series.id, res.series) for res in known.values() if res.series is not None)
        for table in (self.resources, self.by_cik, self.alias_holders, self.subscribers, self.shares, self.tokens):
            table.clear()
        rows = self.db.execute("SELECT id, rid, owner, type, cik, status, description, created, modified, tags, "
                               "comments, series FROM resources ORDER BY id").fetchall()
        for row_id, rid, owner, kind, cik, status, desc, created, modified, tags, comments, series in rows:
            fields = (row_id, rid, kind, owner, cik, status, json.loads(desc), created, modified,
                      json.loads(tags), json.loads(comments))
            res = known.get(rid)
            if res is None:
                res = Resource(*fields)
            else:
                res.assign(*fields)
            self._index(res)
            if not res.is_client:
                res.series = series_by_id.get(series) or self.storage.series.open(series)
        for res in self.resources.values():
            if res.owner is not None:
                res.owner = self.resources[res.owner]
                res.owner.children[res.rid] = res
        for holder, alias, target in self.db.execute("SELECT holder, alias, target FROM aliases ORDER BY rowid"):
            self.resources[holder].aliases[alias] = target
            self.alias_holders.setdefault(target, set()).add((holder, alias))
        for row in self.db.execute("SELECT code, rid, meta, creator, activator, created FROM shares ORDER BY rowid"):
            share = Share(*row)
            self.shares[share.code] = share
            self.resources[share.rid].shares.append(share)
        for rid, client in self.db.execute("SELECT rid, client FROM referrers"):
            self.resources[rid].referrer = client
        for token, rid, permissions, expires, granter in self.db.execute(
                "SELECT token, rid, permissions, expires, granter FROM tokens"):
            self.tokens[token] = Token(token, rid, json.loads(permissions), expires, granter)

    def _index(self, res):
        self.resources[res.rid] = res
        if res.cik:
            self.by_cik[res.cik] = res
        subscribe = res.desc.get("subscribe")
        if subscribe:
            self.subscribers.setdefault(subscribe, set()).add(res.rid)

    def save(self, res):
        self.touch()
        self.db.execute(
            "INSERT OR REPLACE INTO resources (id, rid, owner, type, cik, status, description, created, modified, "
            "tags, comments, series) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (res.id, res.rid, res.owner.rid if res.owner else None, res.type, res.cik, res.status, _dumps(res.desc),
             res.created, res.modified, _dumps(res.tags), _dumps(res.comments),
             res.series.id if res.series is not None else None))

    # --- identifiers ---------------------------------------------------------
    def new_code(self):
        """A fresh random 40-hex string, unique across RIDs, CIKs, shares, tokens."""
        while True:
            code = secrets.token_hex(20)
            if not (code in self.resources or code in self.by_cik or code in self.shares or code in self.tokens):
                return code

    # --- resources -----------------------------------------------------------
    def get(self, rid):
        return self.resources.get(rid) if isinstance(rid, str) else None

    def client_by_cik(self, cik):
        return self.by_cik.get(cik) if isinstance(cik, str) else None

    def _create_root(self):
        root_desc = descriptions.new_description("client", {"limits": dict.fromkeys(descriptions.LIMIT_KEYS,
                                                                                    "inherit")})
        root = self._new(None, "client", root_desc, now(), ACTIVATED)
        self.storage.set_meta("root", root.rid)
        return root

    def _new(self, owner, kind, desc, at, status=None):
        res = Resource(None, self.new_code(), kind, owner, None, status, desc, at, at, [], [])
        if res.is_client:
            res.cik = self.new_code()
            res.status = status or ACTIVATED
        if not res.is_client:
            res.series = self.storage.series.allocate("onep", descriptions.value_kind(desc))
        self.touch()
        res.id = self.db.execute("INSERT INTO resources (rid, type, description, created, modified, tags, comments)"
                                 " VALUES (?, ?, '{}', 0, 0, '[]', '[]')", (res.rid, kind)).lastrowid
        self.save(res)
        self._index(res)
        if owner is not None:
            owner.children[res.rid] = res
        if rules.timer_rule(res):
            self.rules.begin(res, at)
        return res

    def create_resource(self, owner, kind, desc, at=None):
        """A new child of client `owner` with a canonical description."""
        with self.lock:
            return self._new(owner, kind, desc, now() if at is None else at)

    def set_root_cik(self, cik):
        """Gives the root client a fixed CIK (--root-cik)."""
        with self.lock:
            if self.root.cik == cik:
                return
            holder = self.by_cik.get(cik)
            if holder is not None or cik in self.resources or cik in self.shares or cik in self.tokens:
                raise ServerError("that root CIK is already used by another resource")
            self.set_cik(self.root, cik, ACTIVATED)

    def set_cik(self, client, cik, status):
        self.touch()
        if cik != client.cik or status != ACTIVATED:
            self.end_tokens_of(client.cik)
        self.by_cik.pop(client.cik, None)
        client.cik = cik
        client.status = status
        self.by_cik[cik] = client
        self.save(client)

    def set_description(self, res, desc, at):
        self.touch()
        old = res.desc.get("subscribe")
        if old and old != desc.get("subscribe"):
            self.subscribers.get(old, set()).discard(res.rid)
        rule_changed = res.type == "datarule" and desc.get("rule") != res.desc.get("rule")
        res.desc = desc
        res.modified = at
        if desc.get("subscribe"):
            self.subscribers.setdefault(desc["subscribe"], set()).add(res.rid)
        self.save(res)
        if rule_changed:
            self.rules.begin(res, at)

    def create_fountain_client(self):
        """A fresh, empty, activated client under the root with every limit
        "inherit"."""
        with self.lock:
            desc = descriptions.new_description(
                "client", {"limits": dict.fromkeys(descriptions.LIMIT_KEYS, "inherit"), "name": "fountain"})
            return self._new(self.root, "client", desc, now())

    def drop(self, res):
        """Deletes res and its subhierarchy with their aliases (in every
        client), shares, tokens and subscriptions; then the on_drop callbacks
        end what other APIs hang on them (provisioning: a dropped client's vendor)."""
        with self.lock:
            self.touch()
            doomed = res.subtree()
            gone = {r.rid for r in doomed}
            if res.owner is not None:
                del res.owner.children[res.rid]
            for node in doomed:
                for alias in list(node.aliases):
                    self._unmap(node, alias)
                for holder, alias in list(self.alias_holders.get(node.rid, ())):
                    if holder not in gone:
                        self._unmap(self.resources[holder], alias)
                for share in list(node.shares):
                    self.delete_share(share)
                for sub_rid in list(self.subscribers.pop(node.rid, ())):
                    sub = self.resources.get(sub_rid)
                    if sub is not None and sub_rid not in gone:
                        self.set_description(sub, {**sub.desc, "subscribe": None}, sub.modified)
                if node.desc.get("subscribe"):
                    self.subscribers.get(node.desc["subscribe"], set()).discard(node.rid)
                if node.series is not None:
                    self.storage.series.drop(node.series)
                for share in self.shares.values():
                    if share.activator == node.rid:
                        self.set_share_activator(share, None)
                self.by_cik.pop(node.cik, None)
                self.end_tokens_of(node.cik)
                self.storage.watchers.forget(node.rid)
                del self.resources[node.rid]
            self.db.executemany("DELETE FROM resources WHERE rid = ?", [(rid,) for rid in gone])
            self.db.executemany("DELETE FROM referrers WHERE rid = ?", [(rid,) for rid in gone])
            self.rules.forget(gone)
            for token in [t for t in self.tokens.values() if t.rid in gone]:
                self.delete_token(token)
            for callback in self.on_drop:
                callback(gone)

    def clone(self, source, owner, noaliases=False, nohistorical=False, at=None, referrer=None):
        """A copy of client `source` and its subhierarchy under `owner`, with
        new RIDs and CIKs; references inside the copy (aliases, subscribe,
        preprocess operands) point at the copies, and all its references
        count as made by client `referrer` (default: owner). Every client of
        the copy is `notactivated` until its owner activates its CIK (spec
        3.8). Returns the new client."""
        with self.lock:
            at = now() if at is None else at
            copies = {}
            for node in source.subtree():
                parent = owner if node is source else copies[node.owner.rid]
                copies[node.rid] = self._new(parent, node.type, json.loads(_dumps(node.desc)), at, NOTACTIVATED)
            for old_rid, new in copies.items():
                node = self.resources[old_rid]
                desc = _remap(new.desc, {rid: copy.rid for rid, copy in copies.items()})
                if desc != new.desc or node.tags:
                    new.tags = list(node.tags)
                    self.set_description(new, desc, at)
                if access.references(desc):
                    self.set_referrer(new, owner.rid if referrer is None else referrer)
                if not noaliases:
                    for alias, target in node.aliases.items():
                        self.map_alias(new, alias, copies[target].rid if target in copies else target)
                if node.series is not None and not nohistorical:
                    node.series.copy_to(new.series)
            return copies[source.rid]

    def move(self, res, destination, keep_aliases=True):
        """Makes `destination` the owner of res; aliases whose holder is no
        longer an ancestor of their target are re-created in the destination's
        table (keep_aliases) or deleted."""
        with self.lock:
            self.touch()
            del res.owner.children[res.rid]
            res.owner = destination
            destination.children[res.rid] = res
            self.save(res)
            for node in res.subtree():
                for holder_rid, alias in sorted(self.alias_holders.get(node.rid, ())):
                    holder = self.resources[holder_rid]
                    if node.is_within(holder):
                        continue
                    self._unmap(holder, alias)
                    if keep_aliases and alias not in destination.aliases:
                        self.map_alias(destination, alias, node.rid)

    # --- aliases ---------------------------------------------------------------
    def map_alias(self, holder, alias, target_rid):
        self.touch()
        holder.aliases[alias] = target_rid
        self.alias_holders.setdefault(target_rid, set()).add((holder.rid, alias))
        self.db.execute("INSERT INTO aliases (holder, alias, target) VALUES (?,?,?)", (holder.rid, alias, target_rid))

    def _unmap(self, holder, alias):
        self.touch()
        target = holder.aliases.pop(alias)
        self.alias_holders.get(target, set()).discard((holder.rid, alias))
        self.db.execute("DELETE FROM aliases WHERE holder = ? AND alias = ?", (holder.rid, alias))

    def unmap_alias(self, holder, alias):
        with self.lock:
            self._unmap(holder, alias)

    def aliases_of(self, rid):
        """[(holder rid, alias)] of every alias pointing at rid."""
        return sorted(self.alias_holders.get(rid, ()))

    # --- shares ----------------------------------------------------------------
    def create_share(self, res, meta, creator_rid):
        with self.lock:
            share = Share(self.new_code(), res.rid, meta, creator_rid, None, now())
            self.touch()
            self.db.execute("INSERT INTO shares (code, rid, meta, creator, activator, created) VALUES (?,?,?,?,?,?)",
                            (share.code, share.rid, share.meta, share.creator, None, share.created))
            self.shares[share.code] = share
            res.shares.append(share)
            return share

    def share_by_code(self, code):
        return self.shares.get(code) if isinstance(code, str) else None

    def set_share_meta(self, share, meta):
        self.touch()
        share.meta = meta
        self.db.execute("UPDATE shares SET meta = ? WHERE code = ?", (meta, share.code))

    def set_share_activator(self, share, activator_rid):
        self.touch()
        share.activator = activator_rid
        self.db.execute("UPDATE shares SET activator = ? WHERE code = ?", (activator_rid, share.code))

    def delete_share(self, share):
        self.touch()
        del self.shares[share.code]
        res = self.resources.get(share.rid)
        if res is not None:
            res.shares.remove(share)
        self.db.execute("DELETE FROM shares WHERE code = ?", (share.code,))

    def shared_to(self, client_rid):
        """Resources whose share `client_rid` activated, in share order."""
        return [s.rid for s in self.shares.values() if s.activator == client_rid]

    # --- references --------------------------------------------------------------
    def set_referrer(self, res, client_rid):
        """Records the client on whose authority res's references were made
        (access.reference_allowed judges them by it)."""
        self.touch()
        res.referrer = client_rid
        self.db.execute("INSERT OR REPLACE INTO referrers (rid, client) VALUES (?, ?)", (res.rid, client_rid))

    # --- tokens ----------------------------------------------------------------
    def create_token(self, rid, permissions, expires, granter):
        """A new token; `granter` is the CIK or token that granted it."""
        self.touch()
        token = Token(self.new_code(), rid, permissions, expires, granter)
        self.db.execute("INSERT INTO tokens (token, rid, permissions, expires, granter) VALUES (?,?,?,?,?)",
                        (token.token, rid, _dumps(permissions), expires, granter))
        self.tokens[token.token] = token       # once saved: a refused insert leaves nothing behind
        return token

    def delete_token(self, token):
        """Deletes token and every token granted through it."""
        if token.token not in self.tokens:      # already gone with its granter
            return
        self.touch()
        del self.tokens[token.token]
        token.ended = True
        self.db.execute("DELETE FROM tokens WHERE token = ?", (token.token,))
        self.end_tokens_of(token.token)

    def end_tokens_of(self, credential):
        """Deletes the tokens a CIK or token granted (their own grants too):
        called when that credential stops authenticating."""
        if credential is None:
            return
        for token in [t for t in self.tokens.values() if t.granter == credential]:
            self.delete_token(token)

    # --- points ------------------------------------------------------------
    def watch(self, rid, callback):
        """callback(columns) runs (in the loop thread, after the commit) for
        every batch stored in rid; returns a function that stops watching."""
        return self.storage.watchers.watch(rid, callback)

    def wake(self, res, columns):
        self.storage.watchers.wake(res.rid, columns)
