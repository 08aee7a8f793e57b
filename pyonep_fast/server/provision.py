"""The Provisioning / Fleet Management API (spec/provision.md §2) on the embedded server.

Provisioning state lives in `prov_*` tables of the Store's SQLite database
and changes inside the Store's shared transaction, so a provisioning change
and the client it creates or alters commit (and are acknowledged) together.
Devices are real Store clients: enabling a serial number clones the model's
template client under the owner, activation flips that client's status to
`activated`, and from then on its CIK works on the RPC endpoint.

Every path under /provision/ is routed here by one catch-all route; the
path is split and percent-decoded segment by segment (§1.3), so ids may
hold any character and a trailing slash keeps its meaning (`model/M` is the
model, `model/M/` its serial numbers).
"""
import logging
import time
import weakref
from urllib.parse import unquote

from aiohttp import web

from ..exceptions import CallRefused
from . import provision_wire as wire
from .provision_content import ContentEndpoints
from .provision_wire import VAR
from .onep.limits import check_room
from .onep.state import ACTIVATED, EXPIRED, NOTACTIVATED

log = logging.getLogger(__name__)

ACTIVATION_WINDOW = 86400  # seconds from enable/re-enable/remap (§1.7)
MODEL_OPTIONS = ("noaliases", "nocomments", "nohistorical")  # canonical order (§5 #18)

SCHEMA = """
CREATE TABLE IF NOT EXISTS prov_vendor_tokens (
    vendor TEXT NOT NULL, id TEXT NOT NULL, token TEXT UNIQUE NOT NULL, PRIMARY KEY (vendor, id));
CREATE TABLE IF NOT EXISTS prov_models (
    id INTEGER PRIMARY KEY, vendor TEXT NOT NULL, name TEXT NOT NULL, rid TEXT, code TEXT,
    options TEXT NOT NULL, UNIQUE (vendor, name));
CREATE TABLE IF NOT EXISTS prov_sns (
    id INTEGER PRIMARY KEY, model INTEGER NOT NULL, sn TEXT NOT NULL, extra TEXT NOT NULL,
    rid TEXT, enabled_by TEXT, window_start INTEGER, UNIQUE (model, sn));
CREATE INDEX IF NOT EXISTS prov_sns_rid ON prov_sns (rid);
CREATE TABLE IF NOT EXISTS prov_log (sn INTEGER NOT NULL, at INTEGER NOT NULL, peer TEXT NOT NULL,
    entry TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS prov_log_sn ON prov_log (sn);
CREATE TABLE IF NOT EXISTS prov_ranges (model INTEGER NOT NULL, format TEXT NOT NULL, length INTEGER,
    casing TEXT, first INTEGER NOT NULL, last INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS prov_ranges_model ON prov_ranges (model);
CREATE TABLE IF NOT EXISTS prov_content (
    id INTEGER PRIMARY KEY, model INTEGER NOT NULL, cid TEXT NOT NULL, meta TEXT NOT NULL,
    protected INTEGER NOT NULL, mime TEXT NOT NULL, data BLOB NOT NULL, updated INTEGER NOT NULL,
    UNIQUE (model, cid));
CREATE TABLE IF NOT EXISTS prov_groups (
    id INTEGER PRIMARY KEY, model INTEGER NOT NULL, gid TEXT NOT NULL, meta TEXT NOT NULL,
    UNIQUE (model, gid));
CREATE TABLE IF NOT EXISTS prov_members (
    grp INTEGER NOT NULL, type TEXT NOT NULL, mid TEXT NOT NULL, expire INTEGER NOT NULL,
    meta TEXT NOT NULL, PRIMARY KEY (grp, type, mid));
CREATE TABLE IF NOT EXISTS prov_shares (
    model INTEGER NOT NULL, vendor TEXT NOT NULL, PRIMARY KEY (model, vendor));
"""


class Model:
    """A row of prov_models plus who is acting on it."""

    __slots__ = ("id", "vendor", "name", "rid", "code", "options", "as_sharer")

    def __init__(self, row):
        self.id, self.vendor, self.name, self.rid, self.code, options = row
        self.options = options.split(",") if options else []
        self.as_sharer = None  # the calling vendor when it acts through a share


class Provisioning(ContentEndpoints):
    """The provisioning endpoints over one Store.

    `clock` (returning Unix seconds) and `window` (the activation window in
    seconds) are attributes so tests can move time (§1.7).
    """

    def __init__(self, store, clock=None, window=ACTIVATION_WINDOW):
        self.store = store
        self.db = store.db
        self.clock = clock or (lambda: int(time.time()))
        self.window = window
        with store.lock:
            self.db.executescript(SCHEMA)
            store.vendor_deleted.append(self.forget_vendor)
            # databases written before vendors ended with their client may hold such vendors
            for vendor in [v for v in store.vendors.values() if store.get(v.owner) is None]:
                store.delete_vendor(vendor)
        self.routes = (
            (("activate",), {"POST": self.activate}),
            (("download",), {"GET": self.device_download}),
            (("register",), {"GET": self.vendor_show, "POST": self.vendor_register}),
            (("admin", "auth"), {"GET": self.token_list, "POST": self.token_post}),
            (("admin", "auth", ""), {"GET": self.token_list, "POST": self.token_post}),
            (("admin", "auth", VAR), {"GET": self.token_show, "DELETE": self.token_delete}),
            (("manage", "model"), {"GET": self.model_list, "POST": self.model_post}),
            (("manage", "model", ""), {"GET": self.model_list, "POST": self.model_post}),
            (("manage", "model", VAR), {"GET": self.model_info, "PUT": self.model_update,
                                        "DELETE": self.model_delete}),
            (("manage", "model", VAR, ""), {"GET": self.sn_list, "POST": self.sn_post,
                                            "DELETE": self.sn_delete_many}),
            (("manage", "model", VAR, VAR), {"GET": self.sn_info, "POST": self.sn_change,
                                             "DELETE": self.sn_delete}),
            *self.content_routes(),
        )

    # ------------------------------------------------------------ dispatch

    async def dispatch(self, request):
        segments = [unquote(part) for part in request.rel_url.raw_path.split("/")[2:]]
        for pattern, methods in self.routes:
            if len(pattern) == len(segments) and all(
                    segment != "" if part is VAR else segment == part
                    for part, segment in zip(pattern, segments)):
                handler = methods.get(request.method)
                if handler is None:
                    raise wire.method_not_allowed(request.method, list(methods))
                try:
                    return await handler(request, *(s for p, s in zip(pattern, segments) if p is VAR))
                except web.HTTPRequestEntityTooLarge:  # aiohttp's body limit, in the API's error shape
                    raise wire.too_large() from None
        raise wire.error(404)

    # ------------------------------------------------------------ request helpers

    @staticmethod
    def query(request):
        return wire.parse_form(request.rel_url.raw_query_string)

    @staticmethod
    async def body_form(request):
        """The body as a form: form or missing Content-Type (pyonep's PUT/DELETE, §1.3)."""
        kind = wire.media_type(request.headers.get("Content-Type", ""))
        if kind not in ("", wire.FORM):
            raise wire.error(400)
        return wire.parse_form(await request.read())

    @staticmethod
    def key(request):
        """The caller's key: a non-empty X-Exosite-CIK, else a non-empty X-Exosite-Token."""
        return request.headers.get("X-Exosite-CIK") or request.headers.get("X-Exosite-Token") or None

    def client_of_key(self, key):
        """The client a CIK authenticates: as on the RPC side, only an activated one."""
        client = self.store.client_by_cik(key)
        return client if client is not None and client.status == ACTIVATED else None

    def vendor_of_cik(self, cik):
        client = self.client_of_key(cik)
        if client is None:
            return None
        return next((v for v in self.store.vendors.values() if v.owner == client.rid), None)

    def vendor_of_token(self, token):
        vendor = self.store.vendor_by_token(token)
        if vendor is None:
            row = self.db.execute("SELECT vendor FROM prov_vendor_tokens WHERE token = ?", (token,)).fetchone()
            vendor = row and self.store.vendor_by_name(row[0])
        return vendor

    def vendor(self, request):
        """The calling vendor (by token or vendor CIK), else 401."""
        key = self.key(request)
        vendor = key and (self.vendor_of_token(key) or self.vendor_of_cik(key))
        if vendor is None:
            raise wire.error(401)
        return vendor

    def model(self, request, name, shared_access=False):
        """The model `name` of the caller, or of the vendor in X-Exosite-Vendor when
        the caller has share access and the endpoint allows it; else 404."""
        caller = self.vendor(request)
        owner_name = request.headers.get("X-Exosite-Vendor")
        if owner_name and owner_name != caller.name:
            if not shared_access:
                raise wire.error(403)
            model = self.find_model(owner_name, name)
            if model is None:
                raise wire.error(404)
            if not self.db.execute("SELECT 1 FROM prov_shares WHERE model = ? AND vendor = ?",
                                   (model.id, caller.name)).fetchone():
                raise wire.error(403)
            model.as_sharer = caller.name
            return model
        model = self.find_model(caller.name, name)
        if model is None:
            raise wire.error(404)
        return model

    def find_model(self, vendor_name, name):
        row = self.db.execute("SELECT id, vendor, name, rid, code, options FROM prov_models "
                              "WHERE vendor = ? AND name = ?", (vendor_name, name)).fetchone()
        return row and Model(row)

    async def done(self, response=None):
        """Answer only once the change is committed (the Store's group commit)."""
        await self.store.durable()
        return response if response is not None else wire.reset_response()

    # ------------------------------------------------------------ vendors: register (§2.9)

    async def vendor_show(self, request):
        key = self.key(request)
        if key is None or self.client_of_key(key) is None:
            raise wire.error(401)
        vendor = self.vendor_of_cik(key)
        return wire.value_response(vendor.name) if vendor else wire.no_content_response()

    async def vendor_register(self, request):
        key = self.key(request)
        client = key and self.client_of_key(key)
        if not client:
            raise wire.error(401)
        form = await self.body_form(request)
        name = wire.required(form, "vendor")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                vendor = self.store.vendor_by_name(name)
                if vendor is None or vendor.owner != client.rid:
                    raise wire.error(404)
                self.store.delete_vendor(vendor)
            else:
                if self.store.vendor_by_name(name) or self.vendor_of_cik(key):
                    raise wire.error(409)
                self.store.register_vendor(name, client.rid)
        return await self.done()

    def forget_vendor(self, vendor):
        """Removes what an ending vendor owned (Store.delete_vendor calls it, on
        unregistration or when the vendor's client is dropped): its tokens, its
        models, the shares it was given. Sns it enabled through a share go back
        to the model's owner, so a vendor registered later under the same name
        inherits nothing."""
        for (model_id,) in self.db.execute("SELECT id FROM prov_models WHERE vendor = ?",
                                           (vendor.name,)).fetchall():
            self.delete_model(model_id)
        self.store.touch()
        self.db.execute("DELETE FROM prov_vendor_tokens WHERE vendor = ?", (vendor.name,))
        self.db.execute("DELETE FROM prov_shares WHERE vendor = ?", (vendor.name,))
        self.db.execute("UPDATE prov_sns SET enabled_by = (SELECT vendor FROM prov_models WHERE id = prov_sns.model) "
                        "WHERE enabled_by = ?", (vendor.name,))

    # ------------------------------------------------------------ what a vendor may name

    def vendor_client(self, vendor_name, rid):
        """The client `rid` if it lies in the vendor's own client's subhierarchy,
        by the very test RPC applies to its caller (Resource.is_within):
        404 no such resource, 403 another tenant's, 400 not a client."""
        res = self.store.get(rid)
        if res is None:
            raise wire.error(404)
        if not res.is_within(self.store.get(self.store.vendor_by_name(vendor_name).owner)):
            raise wire.error(403)
        if not res.is_client:
            raise wire.error(400)
        return res

    def template_client(self, vendor_name, rid, code):
        """The client a model of the vendor clones, as RPC's `create clone` takes
        it: by RID within the vendor's client, or by a share code not activated
        yet (404 when no such share of a client exists)."""
        if rid:
            return self.vendor_client(vendor_name, rid)
        share = self.store.share_by_code(code)
        template = share and share.activator is None and self.store.get(share.rid)
        if not template or not template.is_client:
            raise wire.error(404)
        return template

    # ------------------------------------------------------------ vendor tokens (§2.10)

    def token_vendor(self, request):
        """Token management needs the vendor CIK: 401 unknown key, 403 a token."""
        key = self.key(request)
        if key and self.vendor_of_token(key):
            raise wire.error(403)
        vendor = key and self.vendor_of_cik(key)
        if not vendor:
            raise wire.error(401)
        return vendor

    async def token_list(self, request):
        vendor = self.token_vendor(request)
        rows = self.db.execute("SELECT id FROM prov_vendor_tokens WHERE vendor = ? ORDER BY rowid",
                               (vendor.name,))
        return wire.lines_response([token_id for (token_id,) in rows])

    async def token_post(self, request):
        vendor = self.token_vendor(request)
        form = await self.body_form(request)
        token_id = wire.required(form, "id")
        with self.store.lock:
            exists = self.db.execute("SELECT 1 FROM prov_vendor_tokens WHERE vendor = ? AND id = ?",
                                     (vendor.name, token_id)).fetchone()
            if wire.is_true(form, "delete"):
                if not exists:
                    raise wire.error(404)
                self.store.touch()
                self.db.execute("DELETE FROM prov_vendor_tokens WHERE vendor = ? AND id = ?",
                                (vendor.name, token_id))
                return await self.done()
            if exists:
                raise wire.error(409)
            token = self.store.new_code()
            self.store.touch()
            self.db.execute("INSERT INTO prov_vendor_tokens (vendor, id, token) VALUES (?, ?, ?)",
                            (vendor.name, token_id, token))
        return await self.done(wire.value_response(token))

    async def token_show(self, request, token_id):
        vendor = self.token_vendor(request)
        row = self.db.execute("SELECT token FROM prov_vendor_tokens WHERE vendor = ? AND id = ?",
                              (vendor.name, token_id)).fetchone()
        if row is None:
            raise wire.error(404)
        return wire.value_response(row[0])

    async def token_delete(self, request, token_id):
        vendor = self.token_vendor(request)
        with self.store.lock:
            self.store.touch()
            deleted = self.db.execute("DELETE FROM prov_vendor_tokens WHERE vendor = ? AND id = ?",
                                      (vendor.name, token_id)).rowcount
        if not deleted:
            raise wire.error(404)
        return await self.done()

    # ------------------------------------------------------------ models (§2.2)

    async def model_list(self, request):
        vendor = self.vendor(request)
        if wire.first(self.query(request), "show") == "shared":
            rows = self.db.execute(
                "SELECT m.vendor, m.name FROM prov_shares s JOIN prov_models m ON m.id = s.model "
                "WHERE s.vendor = ? ORDER BY s.rowid", (vendor.name,)).fetchall()
            return wire.csv_response(rows)
        rows = self.db.execute("SELECT name FROM prov_models WHERE vendor = ? ORDER BY id", (vendor.name,))
        return wire.lines_response([name for (name,) in rows])

    @staticmethod
    def template(form):
        """(rid, code, options) of a model create/update form: exactly one of rid/code."""
        rid, code = wire.first(form, "rid", ""), wire.first(form, "code", "")
        if bool(rid) == bool(code):
            raise wire.error(400)
        given = form.get("options", [])
        options = ",".join(option for option in MODEL_OPTIONS if option in given)
        return rid or None, code or None, options

    async def model_post(self, request):
        vendor = self.vendor(request)
        form = await self.body_form(request)
        name = wire.required(form, "model")
        if wire.is_true(form, "delete"):
            model = self.find_model(vendor.name, name)
            if model is None:
                raise wire.error(404)
            with self.store.lock:
                self.delete_model(model.id)
            return await self.done()
        rid, code, options = self.template(form)
        if self.find_model(vendor.name, name):
            raise wire.error(409)
        with self.store.lock:
            self.template_client(vendor.name, rid, code)
            self.store.touch()
            self.db.execute("INSERT INTO prov_models (vendor, name, rid, code, options) VALUES (?, ?, ?, ?, ?)",
                            (vendor.name, name, rid, code, options))
        return await self.done()

    async def model_info(self, request, name):
        model = self.model(request, name)
        body = f"rid={model.rid}" if model.rid else f"code={model.code}"
        body += "".join(f"&options[]={option}" for option in model.options)
        return web.Response(text=body, content_type=wire.FORM, charset="utf-8")

    async def model_update(self, request, name):
        model = self.model(request, name)
        rid, code, options = self.template(await self.body_form(request))
        with self.store.lock:
            self.template_client(model.vendor, rid, code)
            self.store.touch()
            self.db.execute("UPDATE prov_models SET rid = ?, code = ?, options = ? WHERE id = ?",
                            (rid, code, options, model.id))
        return await self.done()

    async def model_delete(self, request, name):
        model = self.model(request, name)
        with self.store.lock:
            self.delete_model(model.id)
        return await self.done()

    def delete_model(self, model_id):
        """Cascades to sns, their logs, ranges, content, groups and shares;
        the sns' clients stay in the Store as orphans (§2.2)."""
        self.store.touch()
        self.db.execute("DELETE FROM prov_log WHERE sn IN (SELECT id FROM prov_sns WHERE model = ?)", (model_id,))
        self.db.execute("DELETE FROM prov_members WHERE grp IN (SELECT id FROM prov_groups WHERE model = ?)",
                        (model_id,))
        for table in ("prov_sns", "prov_ranges", "prov_content", "prov_groups", "prov_shares"):
            self.db.execute(f"DELETE FROM {table} WHERE model = ?", (model_id,))
        self.db.execute("DELETE FROM prov_models WHERE id = ?", (model_id,))

    # ------------------------------------------------------------ serial numbers (§2.3)

    def sn_row(self, model, sn):
        return self.db.execute("SELECT id, sn, extra, rid, enabled_by, window_start FROM prov_sns "
                               "WHERE model = ? AND sn = ?", (model.id, sn)).fetchone()

    def ranges(self, model):
        return self.db.execute("SELECT format, length, casing, first, last FROM prov_ranges "
                               "WHERE model = ? ORDER BY rowid", (model.id,)).fetchall()

    def whitelisted(self, model, sn):
        return any(wire.range_covers(rng, sn) for rng in self.ranges(model))

    def status(self, rid, window_start):
        """The reported lifecycle status of an sn's client (§2.5); blank without one."""
        client = self.store.get(rid) if rid else None
        if client is None:
            return ""
        if client.status == NOTACTIVATED and self.clock() >= window_start + self.window:
            return EXPIRED
        return client.status

    async def sn_list(self, request, name):
        model = self.model(request, name, shared_access=True)
        query = self.query(request)
        if wire.first(query, "show") == "ranges":
            if model.as_sharer:
                raise wire.error(403)
            body = wire.ranges_json(self.ranges(model))
            return web.Response(body=body, content_type="application/javascript", charset="utf-8")
        offset, limit = wire.pagination(query)
        enabled_by = model.as_sharer or wire.first(query, "shared")
        sql = "SELECT sn, rid, extra, window_start FROM prov_sns WHERE model = ?"
        args = [model.id]
        if enabled_by:
            sql += " AND enabled_by = ?"
            args.append(enabled_by)
        rows = self.db.execute(sql + " ORDER BY id LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        with_status = wire.is_true(query, "status")
        records = []
        for sn, rid, extra, window_start in rows:
            extra = "" if model.as_sharer else extra
            if with_status:
                records.append((sn, self.status(rid, window_start), rid or "", extra))
            else:
                records.append((sn, rid or "", extra))
        return wire.csv_response(records)

    async def sn_post(self, request, name):
        model = self.model(request, name)
        kind = wire.media_type(request.headers.get("Content-Type", ""))
        raw = await request.read()
        if kind in wire.JSON_TYPES or (kind != wire.TEXT_CSV and raw.lstrip().startswith(b"{")):
            return await self.ranges_add(model, wire.parse_ranges(raw))
        if kind == wire.TEXT_CSV:
            return await self.sns_add(model, [(row[0], row[1] if len(row) > 1 else "")
                                              for row in wire.parse_csv(raw, 2)])
        if kind not in ("", wire.FORM):
            raise wire.error(400)
        form = wire.parse_form(raw)
        if wire.is_true(form, "delete") or wire.is_true(form, "remove"):
            return await self.sns_remove(model, form.get("sn", []))
        if form.get("sn"):
            extra = wire.first(form, "extra", "")
            return await self.sns_add(model, [(sn, extra) for sn in form["sn"]])
        raise wire.error(400)

    async def sn_delete_many(self, request, name):
        model = self.model(request, name)
        kind = wire.media_type(request.headers.get("Content-Type", ""))
        raw = await request.read()
        if kind in wire.JSON_TYPES or (kind != wire.TEXT_CSV and raw.lstrip().startswith(b"{")):
            wanted = wire.parse_ranges(raw)
            with self.store.lock:
                self.store.touch()
                for rowid, *rng in self.db.execute(
                        "SELECT rowid, format, length, casing, first, last FROM prov_ranges WHERE model = ?",
                        (model.id,)).fetchall():
                    if any(wire.range_matches(rng, w) for w in wanted):
                        self.db.execute("DELETE FROM prov_ranges WHERE rowid = ?", (rowid,))
            return await self.done()
        return await self.sns_remove(model, [row[0] for row in wire.parse_csv(raw, 2)])

    async def sns_add(self, model, items):
        """Adds every (sn, extra) or, if any sn exists (or repeats), none (§5 #12)."""
        sns = [sn for sn, _ in items]
        if any(not sn for sn in sns):
            raise wire.error(400)
        if len(set(sns)) != len(sns):
            raise wire.error(409)
        with self.store.lock:
            for start in range(0, len(sns), 500):
                chunk = sns[start:start + 500]
                if self.db.execute(f"SELECT 1 FROM prov_sns WHERE model = ? AND sn IN ({','.join('?' * len(chunk))})"
                                   " LIMIT 1", (model.id, *chunk)).fetchone():
                    raise wire.error(409)
            self.store.touch()
            self.db.executemany("INSERT INTO prov_sns (model, sn, extra) VALUES (?, ?, ?)",
                                [(model.id, sn, extra) for sn, extra in items])
        return await self.done()

    async def sns_remove(self, model, sns):
        """Removes the named sns (unknown ones ignored); their clients become orphans."""
        with self.store.lock:
            self.store.touch()
            self.db.executemany("DELETE FROM prov_log WHERE sn IN (SELECT id FROM prov_sns WHERE model = ? AND sn = ?)",
                                [(model.id, sn) for sn in sns])
            self.db.executemany("DELETE FROM prov_sns WHERE model = ? AND sn = ?", [(model.id, sn) for sn in sns])
        return await self.done()

    async def ranges_add(self, model, ranges):
        with self.store.lock:
            stored = set(self.ranges(model))
            self.store.touch()
            for rng in ranges:
                if rng not in stored:
                    stored.add(rng)
                    self.db.execute("INSERT INTO prov_ranges (model, format, length, casing, first, last) "
                                    "VALUES (?, ?, ?, ?, ?, ?)", (model.id, *rng))
        return await self.done()

    # ------------------------------------------------------------ one serial number (§2.4, §2.5)

    def sn_of_sharer(self, model, sn):
        """An sn row a sharing vendor may touch: not enabled yet, or enabled by it (§2.8)."""
        row = self.sn_row(model, sn)
        if model.as_sharer and row is not None and row[4] not in (None, model.as_sharer):
            raise wire.error(403)
        return row

    async def sn_info(self, request, name, sn):
        model = self.model(request, name, shared_access=True)
        query = self.query(request)
        row = self.sn_of_sharer(model, sn)
        show = wire.first(query, "show")
        if model.as_sharer and row is not None and row[4] is None:
            raise wire.error(403)
        if row is None:
            if show is None and not model.as_sharer and self.whitelisted(model, sn):
                return wire.no_content_response()
            raise wire.error(404)
        sn_id, _, extra, rid, _, window_start = row
        if show == "log":
            if model.as_sharer:
                raise wire.error(403)
            rows = self.db.execute("SELECT at, peer, entry FROM prov_log WHERE sn = ? ORDER BY rowid",
                                   (sn_id,)).fetchall()
            return wire.csv_response([(str(at), peer, entry) for at, peer, entry in rows]) \
                if rows else wire.no_content_response()
        if show == "groups":
            if model.as_sharer:
                raise wire.error(403)
            return self.memberships(model, "sn", sn, query)
        if rid is None:
            return wire.no_content_response()
        if self.store.get(rid) is None:
            raise wire.error(409)  # the client was dropped: "orphaned"
        return wire.csv_response([(self.status(rid, window_start), rid, "" if model.as_sharer else extra)])

    async def sn_change(self, request, name, sn):
        model = self.model(request, name, shared_access=True)
        form = await self.body_form(request)
        row = self.sn_of_sharer(model, sn)
        if wire.is_true(form, "disable"):
            return await self.sn_set_status(row, EXPIRED)
        if not wire.is_true(form, "enable"):
            raise wire.error(400)
        caller = model.as_sharer or model.vendor
        if wire.first(form, "owner"):
            return await self.sn_enable(request, model, sn, row, form["owner"][0], caller)
        if wire.first(form, "oldsn"):
            return await self.sn_remap(model, sn, row, form["oldsn"][0], caller)
        return await self.sn_set_status(row, NOTACTIVATED)

    def live_client(self, row):
        """The sn's client if it still exists."""
        return self.store.get(row[3]) if row is not None and row[3] else None

    async def sn_enable(self, request, model, sn, row, owner_rid, caller):
        if row is None and not self.whitelisted(model, sn):
            raise wire.error(404)
        if self.live_client(row):
            raise wire.error(409)
        with self.store.lock:
            client = self.new_device(model, self.vendor_client(caller, owner_rid))
            self.store.touch()
            if row is None:
                self.db.execute("INSERT INTO prov_sns (model, sn, extra, rid, enabled_by, window_start) "
                                "VALUES (?, ?, '', ?, ?, ?)", (model.id, sn, client.rid, caller, self.clock()))
            else:
                self.db.execute("UPDATE prov_sns SET rid = ?, enabled_by = ?, window_start = ? WHERE id = ?",
                                (client.rid, caller, self.clock(), row[0]))
        return await self.done(wire.value_response(client.rid, wire.TEXT_CSV))

    def new_device(self, model, owner):
        """A new `notactivated` client under the owner: a clone of the model's
        template with the model's clone options.

        409 when the owner is at its client limit, or when the template can no
        longer be cloned there: dropped, moved out of the model's vendor's
        client, its share code activated since, or the owner inside it.
        """
        store = self.store
        try:
            template = self.template_client(model.vendor, model.rid, model.code)
        except web.HTTPException:
            raise wire.error(409) from None
        try:
            check_room(store, owner, "client")
        except CallRefused:
            raise wire.error(409) from None  # the owner lacks resources
        if owner.is_within(template):
            raise wire.error(409)
        client = store.clone(template, owner, noaliases="noaliases" in model.options,
                             nohistorical="nohistorical" in model.options, at=self.clock())
        store.set_cik(client, client.cik, NOTACTIVATED)
        return client

    async def sn_remap(self, model, sn, row, old_sn, caller):
        old_row = self.sn_of_sharer(model, old_sn)
        if old_row is None or (row is None and not self.whitelisted(model, sn)):
            raise wire.error(404)
        client = self.live_client(old_row)
        if client is None or self.live_client(row):
            raise wire.error(409)
        with self.store.lock:
            self.store.set_cik(client, self.store.new_code(), NOTACTIVATED)
            self.db.execute("UPDATE prov_sns SET rid = NULL, enabled_by = NULL, window_start = NULL "
                            "WHERE id = ?", (old_row[0],))
            if row is None:
                self.db.execute("INSERT INTO prov_sns (model, sn, extra, rid, enabled_by, window_start) "
                                "VALUES (?, ?, '', ?, ?, ?)", (model.id, sn, client.rid, caller, self.clock()))
            else:
                self.db.execute("UPDATE prov_sns SET rid = ?, enabled_by = ?, window_start = ? WHERE id = ?",
                                (client.rid, caller, self.clock(), row[0]))
        return await self.done()

    async def sn_set_status(self, row, status):
        """disable (→ expired) or re-enable (→ new CIK, notactivated, fresh window)."""
        if row is None:
            raise wire.error(404)
        client = self.live_client(row)
        if client is None:
            raise wire.error(409)
        with self.store.lock:
            if status == NOTACTIVATED:
                self.store.set_cik(client, self.store.new_code(), NOTACTIVATED)
                self.db.execute("UPDATE prov_sns SET window_start = ? WHERE id = ?", (self.clock(), row[0]))
            else:
                self.store.set_cik(client, client.cik, status)
        return await self.done()

    async def sn_delete(self, request, name, sn):
        model = self.model(request, name)
        if self.sn_row(model, sn) is None:
            raise wire.error(404)
        return await self.sns_remove(model, [sn])

    # ------------------------------------------------------------ activation (§2.1)

    def device_sn(self, vendor_name, model_name, sn):
        """(model, sn row) named by a device, or (None, None)."""
        model = self.find_model(vendor_name, model_name)
        return model, model and self.sn_row(model, sn)

    async def activate(self, request):
        form = await self.body_form(request)
        vendor_name, model_name, sn = (wire.first(form, key, "") for key in ("vendor", "model", "sn"))
        model, row = self.device_sn(vendor_name, model_name, sn)
        client = self.live_client(row)
        if client is None:
            raise wire.error(404)
        if client.status != NOTACTIVATED or self.clock() >= row[5] + self.window:
            raise wire.error(409)
        with self.store.lock:
            self.store.set_cik(client, client.cik, ACTIVATED)
            self.db.execute("INSERT INTO prov_log (sn, at, peer, entry) VALUES (?, ?, ?, ?)",
                            (row[0], self.clock(), request.remote or "",
                             f"model={model_name}&vendor={vendor_name}&sn={sn}"))
        return await self.done(wire.value_response(client.cik))


_services = weakref.WeakKeyDictionary()  # Store -> its Provisioning


def setup(app, store):
    """Adds the provisioning routes and tables to the embedded server's app."""
    service = Provisioning(store)
    _services[store] = service
    app.router.add_route("*", "/provision/{tail:.*}", service.dispatch)
    return service


def service_for(store):
    """The Provisioning serving `store` (tests move its clock)."""
    return _services[store]
