"""Content, device downloads, groups and shares of the Provisioning API
(spec/provision.md §2.1, §2.6-2.8).

A mixin of `handlers.Provisioning`: it uses that class's request helpers
(`vendor`, `model`, `body_form`, `items_body`, `parsed`, `query`, `key`,
`whitelisted`, `done`) and its `store`, `state` and `clock`.
"""
from aiohttp import web

from ..http import receive_body
from ..onep.state import ACTIVATED
from . import forms as wire
from .forms import VAR

OCTET_STREAM = "application/octet-stream"


def _expire(text):
    """A membership's expiry: Unix seconds, 0 or empty = never; else 400."""
    try:
        expire = int(text or 0)
    except ValueError:
        raise wire.error(400) from None
    if not 0 <= expire <= wire.MAX_INTEGER:
        raise wire.error(400)
    return expire


class ContentEndpoints:
    def content_routes(self):
        return (
            (("manage", "content", VAR, ""), {"GET": self.content_list, "POST": self.content_post}),
            (("manage", "content", VAR, VAR), {"GET": self.content_get, "POST": self.content_upload,
                                               "DELETE": self.content_delete}),
            (("manage", "group", VAR, ""), {"GET": self.group_list, "POST": self.group_post}),
            (("manage", "group", VAR, VAR), {"GET": self.group_info, "DELETE": self.group_delete}),
            (("manage", "group", VAR, VAR, ""), {"GET": self.member_list, "POST": self.member_post,
                                                 "DELETE": self.member_delete}),
            (("manage", "share", VAR, ""), {"GET": self.share_list, "POST": self.share_post}),
            (("manage", "share", VAR, VAR), {"GET": self.share_show, "DELETE": self.share_delete}),
        )

    # ------------------------------------------------------------ content (§2.6)

    def content_model(self, request, name, missing_status=400):
        """Content endpoints answer an unknown model with 400 (403 for downloads)."""
        vendor = self.vendor(request)
        model = self.state.find_model(vendor.name, name)
        if model is None:
            raise wire.error(missing_status)
        return model

    def content_row(self, model, content_id):
        row = self.state.content_row(model, content_id)
        if row is None:
            raise wire.error(404)
        return row

    def model_sn(self, model, sn):
        """Checks that `sn` belongs to the model (listed or in a range); else 400."""
        if self.state.sn_row(model, sn) is None and not self.whitelisted(model, sn):
            raise wire.error(400)
        return sn

    def may_read(self, model, sn, content_id):
        return self.state.may_read(model, sn, content_id, self.clock())

    def readable_ids(self, model, sn):
        return [cid for cid, protected in self.state.contents(model)
                if not protected or self.may_read(model, sn, cid)]

    async def content_list(self, request, name):
        model = self.content_model(request, name)
        sn = wire.first(self.query(request), "sn")
        if sn is not None:
            return wire.lines_response(self.readable_ids(model, self.model_sn(model, sn)))
        return wire.lines_response([cid for cid, _ in self.state.contents(model)])

    async def content_post(self, request, name):
        model = self.content_model(request, name)
        form = await self.body_form(request)
        content_id = wire.required(form, "id")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                self.content_row(model, content_id)
                self.state.delete_content(model, content_id)
                return await self.done()
            if self.state.content_row(model, content_id):
                raise wire.error(409)
            meta = wire.first(form, "meta", wire.first(form, "description", ""))
            self.state.create_content(model, content_id, meta, wire.is_true(form, "protected"), self.clock())
        return await self.done()

    async def content_get(self, request, name, content_id):
        query = self.query(request)
        download = wire.is_true(query, "download")
        model = self.content_model(request, name, 403 if download else 400)
        if wire.first(query, "show") == "groups":
            self.content_row(model, content_id)
            return self.memberships(model, "content", content_id, query)
        sn = wire.first(query, "sn")
        if sn is not None:
            self.model_sn(model, sn)
        mime, size, updated, meta, protected = self.content_row(model, content_id)
        if sn is not None and protected and not self.may_read(model, sn, content_id):
            raise wire.error(403)
        if download:
            return self.blob(request, model, content_id)
        fields = [mime, str(size), str(updated), meta]
        if sn is None:
            fields.append("true" if protected else "false")
        return wire.csv_response([fields])

    def blob(self, request, model, content_id):
        """The stored bytes, whole (200) or the requested byte range (206)."""
        mime, data = self.state.content_data(model, content_id)
        headers = {"Content-Type": mime or OCTET_STREAM, "Accept-Ranges": "bytes"}
        span = wire.byte_range(request.headers.get("Range"), len(data))
        if span is None:
            return web.Response(body=data, headers=headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return web.Response(status=206, body=data[start:end + 1], headers=headers)

    async def content_upload(self, request, name, content_id):
        model = self.content_model(request, name)
        data = await receive_body(request, wire.body_error)
        mime = request.headers.get("Content-Type") or OCTET_STREAM
        with self.store.lock:
            self.content_row(model, content_id)
            self.state.store_content(model, content_id, mime, data, self.clock())
        return await self.done()

    async def content_delete(self, request, name, content_id):
        model = self.content_model(request, name)
        with self.store.lock:
            self.content_row(model, content_id)
            self.state.delete_content(model, content_id)
        return await self.done()

    # ------------------------------------------------------------ device downloads (§2.1)

    async def device_download(self, request):
        query = self.query(request)
        info = wire.is_true(query, "info")
        cik = self.key(request)
        if cik is None:
            raise wire.error(401)
        model = self.state.find_model(wire.first(query, "vendor", ""), wire.first(query, "model", ""))
        if model is None:
            raise wire.error(400 if info else 403)
        client = self.store.client_by_cik(cik)
        sn = self.state.sn_of_client(model, client.rid) if client is not None and client.status == ACTIVATED else None
        if sn is None:
            raise wire.error(403)
        content_id = wire.first(query, "id")
        if content_id is None:
            return wire.lines_response(self.readable_ids(model, sn))
        mime, size, updated, meta, protected = self.content_row(model, content_id)
        if protected and not self.may_read(model, sn, content_id):
            raise wire.error(403)
        if info:
            return wire.csv_response([(mime, str(size), str(updated), meta)])
        return self.blob(request, model, content_id)

    # ------------------------------------------------------------ groups (§2.7)

    def group_row(self, model, group_id):
        row = self.state.group_row(model, group_id)
        if row is None:
            raise wire.error(404)
        return row

    def memberships(self, model, member_type, member_id, query):
        """Ids of the model's groups having (type, id) as a direct member; 204 none."""
        offset, limit = wire.pagination(query)
        ids = self.state.memberships(model, member_type, member_id, limit, offset)
        return wire.lines_response(ids) if ids else wire.no_content_response()

    async def group_list(self, request, name):
        model = self.model(request, name)
        offset, limit = wire.pagination(self.query(request))
        rows = self.state.groups(model, limit, offset)
        return wire.csv_response(rows) if rows else wire.no_content_response()

    async def group_post(self, request, name):
        model = self.model(request, name)
        form = await self.body_form(request)
        group_id = wire.required(form, "id")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                self.state.delete_group(model, self.group_row(model, group_id)[0], group_id)
                return await self.done()
            if self.state.group_row(model, group_id):
                raise wire.error(409)
            self.state.create_group(model, group_id, wire.first(form, "meta", wire.first(form, "description", "")))
        return await self.done()

    async def group_info(self, request, name, group_id):
        model = self.model(request, name)
        query = self.query(request)
        row_id, meta = self.group_row(model, group_id)
        if wire.first(query, "show") == "groups":
            return self.memberships(model, "group", group_id, query)
        return wire.csv_response([(meta, str(self.state.member_count(row_id)))])

    async def group_delete(self, request, name, group_id):
        model = self.model(request, name)
        with self.store.lock:
            self.state.delete_group(model, self.group_row(model, group_id)[0], group_id)
        return await self.done()

    async def member_list(self, request, name, group_id):
        model = self.model(request, name)
        row_id, _ = self.group_row(model, group_id)
        query = self.query(request)
        offset, limit = wire.pagination(query)
        rows = self.state.members(row_id, wire.first(query, "type"), wire.first(query, "id"), limit, offset)
        if not rows:
            return wire.no_content_response()
        return wire.csv_response([(kind, mid, str(expire), meta) for kind, mid, expire, meta in rows])

    async def member_post(self, request, name, group_id):
        model = self.model(request, name)
        row_id, _ = self.group_row(model, group_id)
        if wire.media_type(request.headers.get("Content-Type", "")) == wire.TEXT_CSV:
            rows = await self.parsed(wire.parse_csv, await self.items_body(request), 4)
            members = [(row[0], row[1], _expire(row[2] if len(row) > 2 else ""), row[3] if len(row) > 3 else "")
                       for row in rows if len(row) > 1]
            if len(members) != len(rows) or any(not kind or not mid for kind, mid, _, _ in members):
                raise wire.error(400)
            return await self.put_members(row_id, members)
        form = await self.body_form(request)
        kind, ids = wire.first(form, "type", ""), form.get("id", [])
        if not kind or not ids or not all(ids):
            raise wire.error(400)
        if wire.is_true(form, "delete"):
            return await self.remove_members(row_id, [(kind, mid) for mid in ids])
        expire, meta = _expire(wire.first(form, "expire", "")), wire.first(form, "meta", "")
        return await self.put_members(row_id, [(kind, mid, expire, meta) for mid in ids])

    async def member_delete(self, request, name, group_id):
        model = self.model(request, name)
        row_id, _ = self.group_row(model, group_id)
        rows = await self.parsed(wire.parse_csv, await self.items_body(request), 3)
        if any(len(row) < 2 for row in rows):
            raise wire.error(400)
        return await self.remove_members(row_id, [(row[0], row[1]) for row in rows])

    async def put_members(self, row_id, members):
        with self.store.lock:
            self.state.put_members(row_id, members)
        return await self.done()

    async def remove_members(self, row_id, members):
        with self.store.lock:
            self.state.remove_members(row_id, members)
        return await self.done()

    # ------------------------------------------------------------ shares (§2.8)

    async def share_list(self, request, name):
        model = self.model(request, name)
        names = self.state.sharees(model)
        return wire.lines_response(names) if names else wire.no_content_response()

    async def share_post(self, request, name):
        model = self.model(request, name)
        form = await self.body_form(request)
        vendor_name = wire.first(form, "vendor", "")
        if wire.is_true(form, "delete"):
            return await self.unshare(model, vendor_name)
        if self.state.vendor_by_name(vendor_name) is None:
            raise wire.error(404)
        with self.store.lock:
            self.state.share_model(model, vendor_name)
        return await self.done()

    async def share_show(self, request, name, vendor_name):
        if not self.state.is_shared(self.model(request, name), vendor_name):
            raise wire.error(404)
        return wire.no_content_response()

    async def share_delete(self, request, name, vendor_name):
        return await self.unshare(self.model(request, name), vendor_name)

    async def unshare(self, model, vendor_name):
        with self.store.lock:
            removed = self.state.unshare_model(model, vendor_name)
        if not removed:
            raise wire.error(404)
        return await self.done()
