"""The Provisioning / Fleet Management API (spec/provision.md §2) on the embedded server.

Provisioning's state lives in its own tables (state.py), changed inside the
storage's shared transaction, so a provisioning change and the client it
creates or alters commit (and are acknowledged) together. Devices are real
One Platform clients: enabling a serial number clones the model's
template client under the owner, activation flips that client's status to
`activated`, and from then on its CIK works on the RPC endpoint.

Every path under /provision/ is routed here by one catch-all route; the
path is split and percent-decoded segment by segment (§1.3), so ids may
hold any character and a trailing slash keeps its meaning (`model/M` is the
model, `model/M/` its serial numbers).
"""
import asyncio
import logging
import time
from urllib.parse import unquote

from aiohttp import web

from ..http import CONFIG, receive_body
from ..onep.errors import CallRefused
from ..onep.limits import check_room
from ..onep.state import ACTIVATED, EXPIRED, NOTACTIVATED
from . import forms as wire
from .content import ContentEndpoints
from .forms import VAR

log = logging.getLogger(__name__)

ACTIVATION_WINDOW = 86400  # seconds from enable/re-enable/remap (§1.7)
LARGE_FORM = 256 * 1024    # bodies from this size are parsed off the event loop
MODEL_OPTIONS = ("noaliases", "nocomments", "nohistorical")  # canonical order (§5 #18)

class Provisioning(ContentEndpoints):
    """The provisioning endpoints over One Platform's state `store` and
    provisioning's own `state`.

    `clock` (returning Unix seconds) and `window` (the activation window in
    seconds) are attributes so tests can move time (§1.7).
    """

    def __init__(self, store, state, clock=None, window=ACTIVATION_WINDOW):
        self.store = store
        self.state = state
        self.clock = clock or (lambda: int(time.time()))
        self.window = window
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
                return await handler(request, *(s for p, s in zip(pattern, segments) if p is VAR))
        raise wire.error(404)

    # ------------------------------------------------------------ request helpers

    @staticmethod
    def query(request):
        return wire.parse_form(request.rel_url.raw_query_string)

    @staticmethod
    async def items_body(request):
        """The body, refused 413 when it names more items (form fields, CSV
        lines) than the server's items_per_request budget: counted before
        anything is parsed, so nothing is stored."""
        raw = await receive_body(request, wire.body_error)
        if max(raw.count(b"&"), raw.count(b"\n")) >= request.app[CONFIG]["limits"].items_per_request:
            raise wire.error(413)
        return raw

    @staticmethod
    async def parsed(parse, raw, *args):
        """parse(raw, *args); in a worker thread for a large body (pure Python:
        it gives the event loop its turns, where on the loop it would hold it)."""
        if len(raw) < LARGE_FORM:
            return parse(raw, *args)
        return await asyncio.get_running_loop().run_in_executor(None, parse, raw, *args)

    async def body_form(self, request):
        """The body as a form: form or missing Content-Type (pyonep's PUT/DELETE, §1.3)."""
        kind = wire.media_type(request.headers.get("Content-Type", ""))
        if kind not in ("", wire.FORM):
            raise wire.error(400)
        return await self.parsed(wire.parse_form, await self.items_body(request))

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
        return self.state.vendor_of_client(client.rid)

    def vendor(self, request):
        """The calling vendor (by token or vendor CIK), else 401."""
        key = self.key(request)
        vendor = key and (self.state.vendor_of_token(key) or self.vendor_of_cik(key))
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
            model = self.state.find_model(owner_name, name)
            if model is None:
                raise wire.error(404)
            if not self.state.is_shared(model, caller.name):
                raise wire.error(403)
            model.as_sharer = caller.name
            return model
        model = self.state.find_model(caller.name, name)
        if model is None:
            raise wire.error(404)
        return model

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
                vendor = self.state.vendor_by_name(name)
                if vendor is None or vendor.owner != client.rid:
                    raise wire.error(404)
                self.state.delete_vendor(vendor)
            else:
                if self.state.vendor_by_name(name) or self.vendor_of_cik(key):
                    raise wire.error(409)
                self.state.register_vendor(name, client.rid)
        return await self.done()

    # ------------------------------------------------------------ what a vendor may name

    def vendor_client(self, vendor_name, rid):
        """The client `rid` if it lies in the vendor's own client's subhierarchy,
        by the very test RPC applies to its caller (Resource.is_within):
        404 no such resource, 403 another tenant's, 400 not a client."""
        res = self.store.get(rid)
        if res is None:
            raise wire.error(404)
        if not res.is_within(self.store.get(self.state.vendor_by_name(vendor_name).owner)):
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
        if key and self.state.vendor_of_token(key):
            raise wire.error(403)
        vendor = key and self.vendor_of_cik(key)
        if not vendor:
            raise wire.error(401)
        return vendor

    async def token_list(self, request):
        vendor = self.token_vendor(request)
        return wire.lines_response(self.state.token_ids(vendor))

    async def token_post(self, request):
        vendor = self.token_vendor(request)
        form = await self.body_form(request)
        token_id = wire.required(form, "id")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                if not self.state.delete_vendor_token(vendor, token_id):
                    raise wire.error(404)
                return await self.done()
            if self.state.vendor_token(vendor, token_id):
                raise wire.error(409)
            token = self.state.create_vendor_token(vendor, token_id)
        return await self.done(wire.value_response(token))

    async def token_show(self, request, token_id):
        vendor = self.token_vendor(request)
        token = self.state.vendor_token(vendor, token_id)
        if token is None:
            raise wire.error(404)
        return wire.value_response(token)

    async def token_delete(self, request, token_id):
        vendor = self.token_vendor(request)
        with self.store.lock:
            deleted = self.state.delete_vendor_token(vendor, token_id)
        if not deleted:
            raise wire.error(404)
        return await self.done()

    # ------------------------------------------------------------ models (§2.2)

    async def model_list(self, request):
        vendor = self.vendor(request)
        if wire.first(self.query(request), "show") == "shared":
            return wire.csv_response(self.state.models_shared_with(vendor))
        return wire.lines_response(self.state.model_names(vendor))

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
            model = self.state.find_model(vendor.name, name)
            if model is None:
                raise wire.error(404)
            with self.store.lock:
                self.state.delete_model(model.id)
            return await self.done()
        rid, code, options = self.template(form)
        if self.state.find_model(vendor.name, name):
            raise wire.error(409)
        with self.store.lock:
            self.template_client(vendor.name, rid, code)
            self.state.create_model(vendor, name, rid, code, options)
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
            self.state.update_model(model, rid, code, options)
        return await self.done()

    async def model_delete(self, request, name):
        model = self.model(request, name)
        with self.store.lock:
            self.state.delete_model(model.id)
        return await self.done()

    # ------------------------------------------------------------ serial numbers (§2.3)

    def whitelisted(self, model, sn):
        return any(wire.range_covers(rng, sn) for rng in self.state.ranges(model))

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
            body = wire.ranges_json(self.state.ranges(model))
            return web.Response(body=body, content_type="application/javascript", charset="utf-8")
        offset, limit = wire.pagination(query)
        enabled_by = model.as_sharer or wire.first(query, "shared")
        rows = self.state.sns(model, enabled_by, limit, offset)
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
        raw = await self.items_body(request)
        if kind in wire.JSON_TYPES or (kind != wire.TEXT_CSV and raw.lstrip().startswith(b"{")):
            return await self.ranges_add(model, wire.parse_ranges(raw))
        if kind == wire.TEXT_CSV:
            return await self.sns_add(model, [(row[0], row[1] if len(row) > 1 else "")
                                              for row in await self.parsed(wire.parse_csv, raw, 2)])
        if kind not in ("", wire.FORM):
            raise wire.error(400)
        form = await self.parsed(wire.parse_form, raw)
        if wire.is_true(form, "delete") or wire.is_true(form, "remove"):
            return await self.sns_remove(model, form.get("sn", []))
        if form.get("sn"):
            extra = wire.first(form, "extra", "")
            return await self.sns_add(model, [(sn, extra) for sn in form["sn"]])
        raise wire.error(400)

    async def sn_delete_many(self, request, name):
        model = self.model(request, name)
        kind = wire.media_type(request.headers.get("Content-Type", ""))
        raw = await self.items_body(request)
        if kind in wire.JSON_TYPES or (kind != wire.TEXT_CSV and raw.lstrip().startswith(b"{")):
            wanted = wire.parse_ranges(raw)
            with self.store.lock:
                self.state.remove_ranges(model, lambda rng: any(wire.range_matches(rng, w) for w in wanted))
            return await self.done()
        return await self.sns_remove(model, [row[0] for row in await self.parsed(wire.parse_csv, raw, 2)])

    async def sns_add(self, model, items):
        """Adds every (sn, extra) or, if any sn exists (or repeats), none (§5 #12)."""
        sns = [sn for sn, _ in items]
        if any(not sn for sn in sns):
            raise wire.error(400)
        if len(set(sns)) != len(sns):
            raise wire.error(409)
        with self.store.lock:
            if self.state.any_sn_exists(model, sns):
                raise wire.error(409)
            self.state.add_sns(model, items)
        return await self.done()

    async def sns_remove(self, model, sns):
        """Removes the named sns (unknown ones ignored); their clients become orphans."""
        with self.store.lock:
            self.state.remove_sns(model, sns)
        return await self.done()

    async def ranges_add(self, model, ranges):
        with self.store.lock:
            self.state.add_ranges(model, ranges)
        return await self.done()

    # ------------------------------------------------------------ one serial number (§2.4, §2.5)

    def sn_of_sharer(self, model, sn):
        """An sn row a sharing vendor may touch: not enabled yet, or enabled by it (§2.8)."""
        row = self.state.sn_row(model, sn)
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
        _, _, extra, rid, _, window_start = row
        if show == "log":
            if model.as_sharer:
                raise wire.error(403)
            rows = self.state.log(row)
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
            self.state.assign_sn(model, sn, row, client.rid, caller, self.clock())
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
        return client      # notactivated, as every clone

    async def sn_remap(self, model, sn, row, old_sn, caller):
        old_row = self.sn_of_sharer(model, old_sn)
        if old_row is None or (row is None and not self.whitelisted(model, sn)):
            raise wire.error(404)
        client = self.live_client(old_row)
        if client is None or self.live_client(row):
            raise wire.error(409)
        with self.store.lock:
            self.store.set_cik(client, self.store.new_code(), NOTACTIVATED)
            self.state.release_sn(old_row)
            self.state.assign_sn(model, sn, row, client.rid, caller, self.clock())
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
                self.state.restart_window(row, self.clock())
            else:
                self.store.set_cik(client, client.cik, status)
        return await self.done()

    async def sn_delete(self, request, name, sn):
        model = self.model(request, name)
        if self.state.sn_row(model, sn) is None:
            raise wire.error(404)
        return await self.sns_remove(model, [sn])

    # ------------------------------------------------------------ activation (§2.1)

    def device_sn(self, vendor_name, model_name, sn):
        """(model, sn row) named by a device, or (None, None)."""
        model = self.state.find_model(vendor_name, model_name)
        return model, model and self.state.sn_row(model, sn)

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
            self.state.log_activation(row, self.clock(), request.remote or "",
                                      f"model={model_name}&vendor={vendor_name}&sn={sn}")
        return await self.done(wire.value_response(client.cik))
