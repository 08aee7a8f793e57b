"""Content, device downloads, groups and shares of the Provisioning API
(spec/provision.md §2.1, §2.6-2.8).

A mixin of `provision.Provisioning`: it uses that class's request helpers
(`vendor`, `model`, `find_model`, `body_form`, `query`, `key`, `sn_row`,
`whitelisted`, `done`) and its `store`, `db` and `clock`.
"""
from aiohttp import web

from . import provision_wire as wire
from .provision_wire import VAR
from .onep.state import ACTIVATED

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
        model = self.find_model(vendor.name, name)
        if model is None:
            raise wire.error(missing_status)
        return model

    def content_row(self, model, content_id):
        row = self.db.execute("SELECT mime, length(data), updated, meta, protected FROM prov_content "
                              "WHERE model = ? AND cid = ?", (model.id, content_id)).fetchone()
        if row is None:
            raise wire.error(404)
        return row

    def model_sn(self, model, sn):
        """Checks that `sn` belongs to the model (listed or in a range); else 400."""
        if self.sn_row(model, sn) is None and not self.whitelisted(model, sn):
            raise wire.error(400)
        return sn

    def may_read(self, model, sn, content_id):
        """Protected content is readable by an sn that shares an unexpired
        direct membership of some group with it (§5 #16)."""
        now = self.clock()
        return self.db.execute(
            "SELECT 1 FROM prov_members a JOIN prov_members b ON a.grp = b.grp "
            "JOIN prov_groups g ON g.id = a.grp WHERE g.model = ? "
            "AND a.type = 'sn' AND a.mid = ? AND (a.expire = 0 OR a.expire > ?) "
            "AND b.type = 'content' AND b.mid = ? AND (b.expire = 0 OR b.expire > ?) LIMIT 1",
            (model.id, sn, now, content_id, now)).fetchone() is not None

    def readable_ids(self, model, sn):
        rows = self.db.execute("SELECT cid, protected FROM prov_content WHERE model = ? ORDER BY id",
                               (model.id,)).fetchall()
        return [cid for cid, protected in rows if not protected or self.may_read(model, sn, cid)]

    async def content_list(self, request, name):
        model = self.content_model(request, name)
        sn = wire.first(self.query(request), "sn")
        if sn is not None:
            return wire.lines_response(self.readable_ids(model, self.model_sn(model, sn)))
        rows = self.db.execute("SELECT cid FROM prov_content WHERE model = ? ORDER BY id", (model.id,))
        return wire.lines_response([cid for (cid,) in rows])

    async def content_post(self, request, name):
        model = self.content_model(request, name)
        form = await self.body_form(request)
        content_id = wire.required(form, "id")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                self.content_row(model, content_id)
                self.delete_content(model, content_id)
                return await self.done()
            if self.db.execute("SELECT 1 FROM prov_content WHERE model = ? AND cid = ?",
                               (model.id, content_id)).fetchone():
                raise wire.error(409)
            meta = wire.first(form, "meta", wire.first(form, "description", ""))
            self.store.touch()
            self.db.execute("INSERT INTO prov_content (model, cid, meta, protected, mime, data, updated) "
                            "VALUES (?, ?, ?, ?, '', x'', ?)",
                            (model.id, content_id, meta, wire.is_true(form, "protected"), self.clock()))
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
        mime, data = self.db.execute("SELECT mime, data FROM prov_content WHERE model = ? AND cid = ?",
                                     (model.id, content_id)).fetchone()
        headers = {"Content-Type": mime or OCTET_STREAM, "Accept-Ranges": "bytes"}
        span = wire.byte_range(request.headers.get("Range"), len(data))
        if span is None:
            return web.Response(body=data, headers=headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return web.Response(status=206, body=data[start:end + 1], headers=headers)

    async def content_upload(self, request, name, content_id):
        model = self.content_model(request, name)
        data = await request.read()
        mime = request.headers.get("Content-Type") or OCTET_STREAM
        with self.store.lock:
            self.content_row(model, content_id)
            self.store.touch()
            self.db.execute("UPDATE prov_content SET mime = ?, data = ?, updated = ? WHERE model = ? AND cid = ?",
                            (mime, data, self.clock(), model.id, content_id))
        return await self.done()

    async def content_delete(self, request, name, content_id):
        model = self.content_model(request, name)
        with self.store.lock:
            self.content_row(model, content_id)
            self.delete_content(model, content_id)
        return await self.done()

    def delete_content(self, model, content_id):
        self.store.touch()
        self.db.execute("DELETE FROM prov_content WHERE model = ? AND cid = ?", (model.id, content_id))
        self.db.execute("DELETE FROM prov_members WHERE type = 'content' AND mid = ? "
                        "AND grp IN (SELECT id FROM prov_groups WHERE model = ?)", (content_id, model.id))

    # ------------------------------------------------------------ device downloads (§2.1)

    async def device_download(self, request):
        query = self.query(request)
        info = wire.is_true(query, "info")
        cik = self.key(request)
        if cik is None:
            raise wire.error(401)
        model = self.find_model(wire.first(query, "vendor", ""), wire.first(query, "model", ""))
        if model is None:
            raise wire.error(400 if info else 403)
        client = self.store.client_by_cik(cik)
        device = client is not None and client.status == ACTIVATED and self.db.execute(
            "SELECT sn FROM prov_sns WHERE model = ? AND rid = ?", (model.id, client.rid)).fetchone()
        if not device:
            raise wire.error(403)
        sn = device[0]
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
        row = self.db.execute("SELECT id, meta FROM prov_groups WHERE model = ? AND gid = ?",
                              (model.id, group_id)).fetchone()
        if row is None:
            raise wire.error(404)
        return row

    def memberships(self, model, member_type, member_id, query):
        """Ids of the model's groups having (type, id) as a direct member; 204 none."""
        offset, limit = wire.pagination(query)
        rows = self.db.execute(
            "SELECT g.gid FROM prov_members m JOIN prov_groups g ON g.id = m.grp "
            "WHERE g.model = ? AND m.type = ? AND m.mid = ? ORDER BY g.id LIMIT ? OFFSET ?",
            (model.id, member_type, member_id, limit, offset)).fetchall()
        return wire.lines_response([gid for (gid,) in rows]) if rows else wire.no_content_response()

    async def group_list(self, request, name):
        model = self.model(request, name)
        offset, limit = wire.pagination(self.query(request))
        rows = self.db.execute("SELECT gid, meta FROM prov_groups WHERE model = ? ORDER BY id LIMIT ? OFFSET ?",
                               (model.id, limit, offset)).fetchall()
        return wire.csv_response(rows) if rows else wire.no_content_response()

    async def group_post(self, request, name):
        model = self.model(request, name)
        form = await self.body_form(request)
        group_id = wire.required(form, "id")
        with self.store.lock:
            if wire.is_true(form, "delete"):
                self.delete_group(model, self.group_row(model, group_id)[0], group_id)
                return await self.done()
            if self.db.execute("SELECT 1 FROM prov_groups WHERE model = ? AND gid = ?",
                               (model.id, group_id)).fetchone():
                raise wire.error(409)
            self.store.touch()
            self.db.execute("INSERT INTO prov_groups (model, gid, meta) VALUES (?, ?, ?)",
                            (model.id, group_id, wire.first(form, "meta", wire.first(form, "description", ""))))
        return await self.done()

    async def group_info(self, request, name, group_id):
        model = self.model(request, name)
        query = self.query(request)
        row_id, meta = self.group_row(model, group_id)
        if wire.first(query, "show") == "groups":
            return self.memberships(model, "group", group_id, query)
        (count,) = self.db.execute("SELECT count(*) FROM prov_members WHERE grp = ?", (row_id,)).fetchone()
        return wire.csv_response([(meta, str(count))])

    async def group_delete(self, request, name, group_id):
        model = self.model(request, name)
        with self.store.lock:
            self.delete_group(model, self.group_row(model, group_id)[0], group_id)
        return await self.done()

    def delete_group(self, model, row_id, group_id):
        """Drops the group, its members, and its membership in other groups."""
        self.store.touch()
        self.db.execute("DELETE FROM prov_members WHERE grp = ?", (row_id,))
        self.db.execute("DELETE FROM prov_members WHERE type = 'group' AND mid = ? "
                        "AND grp IN (SELECT id FROM prov_groups WHERE model = ?)", (group_id, model.id))
        self.db.execute("DELETE FROM prov_groups WHERE id = ?", (row_id,))

    async def member_list(self, request, name, group_id):
        model = self.model(request, name)
        row_id, _ = self.group_row(model, group_id)
        query = self.query(request)
        offset, limit = wire.pagination(query)
        sql = "SELECT type, mid, expire, meta FROM prov_members WHERE grp = ?"
        args = [row_id]
        for field, column in (("type", "type"), ("id", "mid")):
            value = wire.first(query, field)
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        rows = self.db.execute(sql + " ORDER BY rowid LIMIT ? OFFSET ?", (*args, limit, offset)).fetchall()
        if not rows:
            return wire.no_content_response()
        return wire.csv_response([(kind, mid, str(expire), meta) for kind, mid, expire, meta in rows])

    async def member_post(self, request, name, group_id):
        model = self.model(request, name)
        row_id, _ = self.group_row(model, group_id)
        if wire.media_type(request.headers.get("Content-Type", "")) == wire.TEXT_CSV:
            rows = wire.parse_csv(await request.read(), 4)
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
        rows = wire.parse_csv(await request.read(), 3)
        if any(len(row) < 2 for row in rows):
            raise wire.error(400)
        return await self.remove_members(row_id, [(row[0], row[1]) for row in rows])

    async def put_members(self, row_id, members):
        with self.store.lock:
            self.store.touch()
            self.db.executemany(
                "INSERT INTO prov_members (grp, type, mid, expire, meta) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (grp, type, mid) DO UPDATE SET expire = excluded.expire, meta = excluded.meta",
                [(row_id, *member) for member in members])
        return await self.done()

    async def remove_members(self, row_id, members):
        with self.store.lock:
            self.store.touch()
            self.db.executemany("DELETE FROM prov_members WHERE grp = ? AND type = ? AND mid = ?",
                                [(row_id, kind, mid) for kind, mid in members])
        return await self.done()

    # ------------------------------------------------------------ shares (§2.8)

    def is_shared(self, model, vendor_name):
        return self.db.execute("SELECT 1 FROM prov_shares WHERE model = ? AND vendor = ?",
                               (model.id, vendor_name)).fetchone() is not None

    async def share_list(self, request, name):
        model = self.model(request, name)
        rows = self.db.execute("SELECT vendor FROM prov_shares WHERE model = ? ORDER BY rowid", (model.id,))
        names = [vendor for (vendor,) in rows]
        return wire.lines_response(names) if names else wire.no_content_response()

    async def share_post(self, request, name):
        model = self.model(request, name)
        form = await self.body_form(request)
        vendor_name = wire.first(form, "vendor", "")
        if wire.is_true(form, "delete"):
            return await self.unshare(model, vendor_name)
        if self.store.vendor_by_name(vendor_name) is None:
            raise wire.error(404)
        with self.store.lock:
            self.store.touch()
            self.db.execute("INSERT OR IGNORE INTO prov_shares (model, vendor) VALUES (?, ?)",
                            (model.id, vendor_name))
        return await self.done()

    async def share_show(self, request, name, vendor_name):
        if not self.is_shared(self.model(request, name), vendor_name):
            raise wire.error(404)
        return wire.no_content_response()

    async def share_delete(self, request, name, vendor_name):
        return await self.unshare(self.model(request, name), vendor_name)

    async def unshare(self, model, vendor_name):
        with self.store.lock:
            self.store.touch()
            removed = self.db.execute("DELETE FROM prov_shares WHERE model = ? AND vendor = ?",
                                      (model.id, vendor_name)).rowcount
        if not removed:
            raise wire.error(404)
        return await self.done()
