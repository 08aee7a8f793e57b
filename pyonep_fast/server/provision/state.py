"""Provisioning's state: vendors, their tokens, models, serial numbers,
activation logs, ranges, content, groups and model shares, in `vendors` and
`prov_*` tables of the shared database.

Every change runs inside the storage's shared transaction, so a provisioning
change and the One Platform client it creates or alters commit (and are
acknowledged) together. Vendors are kept in memory too (every request looks
one up); the rest is read from the tables.
"""
import secrets
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS vendors (
    name TEXT PRIMARY KEY, token TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, created INTEGER NOT NULL);
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
SCHEMA_VERSION = 1      # 0: 4819069's layout, the same tables (vendors then made by One Platform's schema)
SN_COLUMNS = "id, sn, extra, rid, enabled_by, window_start"   # an sn row, in this order


class Vendor:
    __slots__ = ("name", "token", "owner", "created")

    def __init__(self, name, token, owner, created):
        self.name = name
        self.token = token
        self.owner = owner
        self.created = created


class Model:
    """A row of prov_models plus who is acting on it."""

    __slots__ = ("id", "vendor", "name", "rid", "code", "options", "as_sharer")

    def __init__(self, row):
        self.id, self.vendor, self.name, self.rid, self.code, options = row
        self.options = options.split(",") if options else []
        self.as_sharer = None  # the calling vendor when it acts through a share


class ProvisionState:
    """Provisioning's tables over `storage`; `onep` (One Platform's state)
    issues the codes used as vendor tokens, unique across the server."""

    def __init__(self, storage, onep):
        self.storage = storage
        self.onep = onep
        self.db = storage.db
        self.lock = storage.lock
        storage.schema("provision", SCHEMA_VERSION, SCHEMA, tables=("vendors", "prov_models"))
        self.vendors = {}                # name -> Vendor
        self.vendors_by_token = {}
        self._load_vendors()
        storage.on_rollback.append(self._load_vendors)
        # databases written before vendors ended with their client may hold such vendors
        self.clients_dropped({v.owner for v in self.vendors.values() if onep.get(v.owner) is None})
        storage.commit()

    def _write(self, sql, args=()):
        self.storage.touch()
        return self.db.execute(sql, args)

    def _write_many(self, sql, rows):
        self.storage.touch()
        return self.db.executemany(sql, rows)

    def _one(self, sql, args=()):
        return self.db.execute(sql, args).fetchone()

    def _all(self, sql, args=()):
        return self.db.execute(sql, args).fetchall()

    # ------------------------------------------------------------ vendors
    def _load_vendors(self, series_by_id=None):
        """Reads the vendors (at start, and after a failed call's rollback)."""
        self.vendors.clear()
        self.vendors_by_token.clear()
        for row in self.db.execute("SELECT name, token, owner, created FROM vendors"):
            self._index_vendor(Vendor(*row))

    def _index_vendor(self, vendor):
        self.vendors[vendor.name] = vendor
        self.vendors_by_token[vendor.token] = vendor

    def register_vendor(self, name, owner_rid):
        """Registers vendor `name` for client `owner_rid` with a fresh token."""
        with self.lock:
            vendor = Vendor(name, self.onep.new_code(), owner_rid, int(time.time()))
            self._write("INSERT INTO vendors (name, token, owner, created) VALUES (?,?,?,?)",
                        (vendor.name, vendor.token, vendor.owner, vendor.created))
            self._index_vendor(vendor)
            return vendor

    def create_vendor(self, owner_rid):
        """Registers a vendor with a fresh name for a client."""
        with self.lock:
            while True:
                name = "vendor" + secrets.token_hex(6)
                if name not in self.vendors:
                    return self.register_vendor(name, owner_rid)

    def fountain_fields(self, client):
        """The CIK fountain's vendor fields: a vendor registered for its new client."""
        vendor = self.create_vendor(client.rid)
        return {"vendor": vendor.name, "vendortoken": vendor.token}

    def vendor_by_token(self, token):
        return self.vendors_by_token.get(token) if isinstance(token, str) else None

    def vendor_by_name(self, name):
        return self.vendors.get(name) if isinstance(name, str) else None

    def vendor_of_client(self, rid):
        return next((v for v in self.vendors.values() if v.owner == rid), None)

    def vendor_of_token(self, token):
        """The vendor of a vendor token or of one of its named tokens."""
        vendor = self.vendor_by_token(token)
        if vendor is None:
            row = self._one("SELECT vendor FROM prov_vendor_tokens WHERE token = ?", (token,))
            vendor = row and self.vendor_by_name(row[0])
        return vendor

    def delete_vendor(self, vendor):
        """Ends a vendor (unregistered, or its client dropped): its token stops
        working, its tokens, models and the shares it was given go. Sns it
        enabled through a share go back to the model's owner, so a vendor
        registered later under the same name inherits nothing."""
        with self.lock:
            for (model_id,) in self._all("SELECT id FROM prov_models WHERE vendor = ?", (vendor.name,)):
                self.delete_model(model_id)
            self._write("DELETE FROM prov_vendor_tokens WHERE vendor = ?", (vendor.name,))
            self._write("DELETE FROM prov_shares WHERE vendor = ?", (vendor.name,))
            self._write("UPDATE prov_sns SET enabled_by = (SELECT vendor FROM prov_models WHERE id = prov_sns.model) "
                        "WHERE enabled_by = ?", (vendor.name,))
            self._write("DELETE FROM vendors WHERE name = ?", (vendor.name,))
            del self.vendors[vendor.name]
            del self.vendors_by_token[vendor.token]

    def clients_dropped(self, rids):
        """One Platform dropped these clients (OnepState.on_drop): their vendors end."""
        for vendor in [v for v in self.vendors.values() if v.owner in rids]:
            self.delete_vendor(vendor)

    # ------------------------------------------------------------ vendor tokens
    def token_ids(self, vendor):
        return [token_id for (token_id,) in self._all(
            "SELECT id FROM prov_vendor_tokens WHERE vendor = ? ORDER BY rowid", (vendor.name,))]

    def vendor_token(self, vendor, token_id):
        row = self._one("SELECT token FROM prov_vendor_tokens WHERE vendor = ? AND id = ?", (vendor.name, token_id))
        return row[0] if row else None

    def create_vendor_token(self, vendor, token_id):
        token = self.onep.new_code()
        self._write("INSERT INTO prov_vendor_tokens (vendor, id, token) VALUES (?, ?, ?)",
                    (vendor.name, token_id, token))
        return token

    def delete_vendor_token(self, vendor, token_id):
        """True if the token existed."""
        return self._write("DELETE FROM prov_vendor_tokens WHERE vendor = ? AND id = ?",
                           (vendor.name, token_id)).rowcount > 0

    # ------------------------------------------------------------ models
    def find_model(self, vendor_name, name):
        row = self._one("SELECT id, vendor, name, rid, code, options FROM prov_models WHERE vendor = ? AND name = ?",
                        (vendor_name, name))
        return row and Model(row)

    def model_names(self, vendor):
        return [name for (name,) in self._all("SELECT name FROM prov_models WHERE vendor = ? ORDER BY id",
                                              (vendor.name,))]

    def models_shared_with(self, vendor):
        """[(owning vendor, model name)] of the models shared with vendor, in share order."""
        return self._all("SELECT m.vendor, m.name FROM prov_shares s JOIN prov_models m ON m.id = s.model "
                         "WHERE s.vendor = ? ORDER BY s.rowid", (vendor.name,))

    def create_model(self, vendor, name, rid, code, options):
        self._write("INSERT INTO prov_models (vendor, name, rid, code, options) VALUES (?, ?, ?, ?, ?)",
                    (vendor.name, name, rid, code, options))

    def update_model(self, model, rid, code, options):
        self._write("UPDATE prov_models SET rid = ?, code = ?, options = ? WHERE id = ?", (rid, code, options, model.id))

    def delete_model(self, model_id):
        """Cascades to sns, their logs, ranges, content, groups and shares;
        the sns' clients stay in One Platform as orphans (§2.2)."""
        self._write("DELETE FROM prov_log WHERE sn IN (SELECT id FROM prov_sns WHERE model = ?)", (model_id,))
        self._write("DELETE FROM prov_members WHERE grp IN (SELECT id FROM prov_groups WHERE model = ?)", (model_id,))
        for table in ("prov_sns", "prov_ranges", "prov_content", "prov_groups", "prov_shares"):
            self._write(f"DELETE FROM {table} WHERE model = ?", (model_id,))
        self._write("DELETE FROM prov_models WHERE id = ?", (model_id,))

    # ------------------------------------------------------------ model shares
    def is_shared(self, model, vendor_name):
        return self._one("SELECT 1 FROM prov_shares WHERE model = ? AND vendor = ?",
                         (model.id, vendor_name)) is not None

    def sharees(self, model):
        return [vendor for (vendor,) in self._all("SELECT vendor FROM prov_shares WHERE model = ? ORDER BY rowid",
                                                  (model.id,))]

    def share_model(self, model, vendor_name):
        self._write("INSERT OR IGNORE INTO prov_shares (model, vendor) VALUES (?, ?)", (model.id, vendor_name))

    def unshare_model(self, model, vendor_name):
        """True if the model was shared with vendor_name."""
        return self._write("DELETE FROM prov_shares WHERE model = ? AND vendor = ?",
                           (model.id, vendor_name)).rowcount > 0

    # ------------------------------------------------------------ serial numbers and ranges
    def sn_row(self, model, sn):
        """(id, sn, extra, rid, enabled_by, window_start) or None."""
        return self._one(f"SELECT {SN_COLUMNS} FROM prov_sns WHERE model = ? AND sn = ?", (model.id, sn))

    def sn_of_client(self, model, rid):
        """The model's sn whose client is `rid`, or None."""
        row = self._one("SELECT sn FROM prov_sns WHERE model = ? AND rid = ?", (model.id, rid))
        return row[0] if row else None

    def sns(self, model, enabled_by, limit, offset):
        """[(sn, rid, extra, window_start)] in creation order, optionally only those enabled by a vendor."""
        sql = "SELECT sn, rid, extra, window_start FROM prov_sns WHERE model = ?"
        args = [model.id]
        if enabled_by:
            sql += " AND enabled_by = ?"
            args.append(enabled_by)
        return self._all(sql + " ORDER BY id LIMIT ? OFFSET ?", (*args, limit, offset))

    def any_sn_exists(self, model, sns):
        for start in range(0, len(sns), 500):
            chunk = sns[start:start + 500]
            if self._one(f"SELECT 1 FROM prov_sns WHERE model = ? AND sn IN ({','.join('?' * len(chunk))}) LIMIT 1",
                         (model.id, *chunk)):
                return True
        return False

    def add_sns(self, model, items):
        self._write_many("INSERT INTO prov_sns (model, sn, extra) VALUES (?, ?, ?)",
                         [(model.id, sn, extra) for sn, extra in items])

    def remove_sns(self, model, sns):
        """Removes the named sns and their logs (unknown ones ignored)."""
        self._write_many("DELETE FROM prov_log WHERE sn IN (SELECT id FROM prov_sns WHERE model = ? AND sn = ?)",
                         [(model.id, sn) for sn in sns])
        self._write_many("DELETE FROM prov_sns WHERE model = ? AND sn = ?", [(model.id, sn) for sn in sns])

    def assign_sn(self, model, sn, row, rid, enabled_by, at):
        """Ties sn (its row, or a new row when None) to client rid, enabled by a vendor at `at`."""
        if row is None:
            self._write("INSERT INTO prov_sns (model, sn, extra, rid, enabled_by, window_start) "
                        "VALUES (?, ?, '', ?, ?, ?)", (model.id, sn, rid, enabled_by, at))
        else:
            self._write("UPDATE prov_sns SET rid = ?, enabled_by = ?, window_start = ? WHERE id = ?",
                        (rid, enabled_by, at, row[0]))

    def release_sn(self, row):
        self._write("UPDATE prov_sns SET rid = NULL, enabled_by = NULL, window_start = NULL WHERE id = ?", (row[0],))

    def restart_window(self, row, at):
        self._write("UPDATE prov_sns SET window_start = ? WHERE id = ?", (at, row[0]))

    def log(self, row):
        """[(at, peer, entry)] of an sn's activations."""
        return self._all("SELECT at, peer, entry FROM prov_log WHERE sn = ? ORDER BY rowid", (row[0],))

    def log_activation(self, row, at, peer, entry):
        self._write("INSERT INTO prov_log (sn, at, peer, entry) VALUES (?, ?, ?, ?)", (row[0], at, peer, entry))

    def ranges(self, model):
        """[(format, length, casing, first, last)] in creation order."""
        return self._all("SELECT format, length, casing, first, last FROM prov_ranges WHERE model = ? ORDER BY rowid",
                         (model.id,))

    def add_ranges(self, model, ranges):
        """Adds the ranges not already stored."""
        stored = set(self.ranges(model))
        for rng in ranges:
            if rng not in stored:
                stored.add(rng)
                self._write("INSERT INTO prov_ranges (model, format, length, casing, first, last) "
                            "VALUES (?, ?, ?, ?, ?, ?)", (model.id, *rng))

    def remove_ranges(self, model, doomed):
        """Removes the ranges for which doomed(range) is true."""
        for rowid, *rng in self._all("SELECT rowid, format, length, casing, first, last FROM prov_ranges "
                                     "WHERE model = ?", (model.id,)):
            if doomed(tuple(rng)):
                self._write("DELETE FROM prov_ranges WHERE rowid = ?", (rowid,))

    # ------------------------------------------------------------ content
    def content_row(self, model, content_id):
        """(mime, size, updated, meta, protected) or None."""
        return self._one("SELECT mime, length(data), updated, meta, protected FROM prov_content "
                         "WHERE model = ? AND cid = ?", (model.id, content_id))

    def contents(self, model):
        """[(content id, protected)] in creation order."""
        return self._all("SELECT cid, protected FROM prov_content WHERE model = ? ORDER BY id", (model.id,))

    def content_data(self, model, content_id):
        """(mime, data) of stored content."""
        return self._one("SELECT mime, data FROM prov_content WHERE model = ? AND cid = ?", (model.id, content_id))

    def create_content(self, model, content_id, meta, protected, at):
        self._write("INSERT INTO prov_content (model, cid, meta, protected, mime, data, updated) "
                    "VALUES (?, ?, ?, ?, '', x'', ?)", (model.id, content_id, meta, protected, at))

    def store_content(self, model, content_id, mime, data, at):
        self._write("UPDATE prov_content SET mime = ?, data = ?, updated = ? WHERE model = ? AND cid = ?",
                    (mime, data, at, model.id, content_id))

    def delete_content(self, model, content_id):
        self._write("DELETE FROM prov_content WHERE model = ? AND cid = ?", (model.id, content_id))
        self._write("DELETE FROM prov_members WHERE type = 'content' AND mid = ? "
                    "AND grp IN (SELECT id FROM prov_groups WHERE model = ?)", (content_id, model.id))

    def may_read(self, model, sn, content_id, at):
        """Protected content is readable by an sn that shares an unexpired
        direct membership of some group with it (§5 #16)."""
        return self._one(
            "SELECT 1 FROM prov_members a JOIN prov_members b ON a.grp = b.grp "
            "JOIN prov_groups g ON g.id = a.grp WHERE g.model = ? "
            "AND a.type = 'sn' AND a.mid = ? AND (a.expire = 0 OR a.expire > ?) "
            "AND b.type = 'content' AND b.mid = ? AND (b.expire = 0 OR b.expire > ?) LIMIT 1",
            (model.id, sn, at, content_id, at)) is not None

    # ------------------------------------------------------------ groups
    def group_row(self, model, group_id):
        """(row id, meta) or None."""
        return self._one("SELECT id, meta FROM prov_groups WHERE model = ? AND gid = ?", (model.id, group_id))

    def groups(self, model, limit, offset):
        """[(group id, meta)] in creation order."""
        return self._all("SELECT gid, meta FROM prov_groups WHERE model = ? ORDER BY id LIMIT ? OFFSET ?",
                         (model.id, limit, offset))

    def create_group(self, model, group_id, meta):
        self._write("INSERT INTO prov_groups (model, gid, meta) VALUES (?, ?, ?)", (model.id, group_id, meta))

    def delete_group(self, model, row_id, group_id):
        """Drops the group, its members, and its membership in other groups."""
        self._write("DELETE FROM prov_members WHERE grp = ?", (row_id,))
        self._write("DELETE FROM prov_members WHERE type = 'group' AND mid = ? "
                    "AND grp IN (SELECT id FROM prov_groups WHERE model = ?)", (group_id, model.id))
        self._write("DELETE FROM prov_groups WHERE id = ?", (row_id,))

    def memberships(self, model, member_type, member_id, limit, offset):
        """Ids of the model's groups having (type, id) as a direct member."""
        return [gid for (gid,) in self._all(
            "SELECT g.gid FROM prov_members m JOIN prov_groups g ON g.id = m.grp "
            "WHERE g.model = ? AND m.type = ? AND m.mid = ? ORDER BY g.id LIMIT ? OFFSET ?",
            (model.id, member_type, member_id, limit, offset))]

    def member_count(self, row_id):
        return self._one("SELECT count(*) FROM prov_members WHERE grp = ?", (row_id,))[0]

    def members(self, row_id, kind, member_id, limit, offset):
        """[(type, id, expire, meta)] of a group, optionally of one type and/or id."""
        sql = "SELECT type, mid, expire, meta FROM prov_members WHERE grp = ?"
        args = [row_id]
        for column, value in (("type", kind), ("mid", member_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        return self._all(sql + " ORDER BY rowid LIMIT ? OFFSET ?", (*args, limit, offset))

    def put_members(self, row_id, members):
        """Adds or updates (type, id, expire, meta) members."""
        self._write_many("INSERT INTO prov_members (grp, type, mid, expire, meta) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (grp, type, mid) DO UPDATE SET expire = excluded.expire, meta = excluded.meta",
                         [(row_id, *member) for member in members])

    def remove_members(self, row_id, members):
        self._write_many("DELETE FROM prov_members WHERE grp = ? AND type = ? AND mid = ?",
                         [(row_id, kind, mid) for kind, mid in members])
