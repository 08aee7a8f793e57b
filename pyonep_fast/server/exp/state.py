"""EXP's state on the embedded server (spec/exp.md 2-3): organizations (the
tenant boundary), users, consumer apps, the documents of every collection,
data, content bytes, and the key that signs the server's tokens.

Every read and write takes the organization of the caller's identity, which
the handlers get from their one access check (handlers.Exp.access); nothing
here finds a document without it, except the device and consumer-app logins,
whose JWT names only a uuid (so those uuids are unique across organizations).

Persistence: the tables live in the server's shared Storage (component
"exp" of its schemas); every change is written in its shared transaction
(`touch()`), and the handlers `await storage.durable()` (the group commit)
before they answer. Documents are also held in memory, per (organization,
collection) in creation order, which is the order `find` answers in.
"""
import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
import uuid as uuidlib
from typing import NamedTuple

import orjson

from ...exp import _jws
from .content import APP, seed_content

COLLECTIONS = {  # collection -> the kind named in errors and default names
    "devices": "Device", "things": "Thing", "experiences": "Experience", "locations": "Location",
    "feeds": "Feed", "content": "Content",
}
CONSUMER_APPS = "consumerApps"  # not reachable through the REST API
DATA = "data"
RESERVED_PARAMS = frozenset(("limit", "skip", "appContent"))
DEFAULT_TOKEN_LIFETIME = 3600.0
RESTRICTED_TOKEN_LIFETIME = 30 * 86400.0
PASSWORD_ROUNDS = 20000
TOKEN_CACHE_SIZE = 4096

SCHEMA = """
CREATE TABLE IF NOT EXISTS exp_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS exp_organizations (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS exp_users (org TEXT NOT NULL, username TEXT NOT NULL, salt BLOB NOT NULL,
    hash BLOB NOT NULL, role TEXT NOT NULL, PRIMARY KEY (org, username));
CREATE TABLE IF NOT EXISTS exp_documents (id INTEGER PRIMARY KEY, org TEXT NOT NULL, collection TEXT NOT NULL,
    uuid TEXT NOT NULL, body TEXT NOT NULL, UNIQUE (org, collection, uuid));
CREATE TABLE IF NOT EXISTS exp_blobs (org TEXT NOT NULL, path TEXT NOT NULL, variant TEXT NOT NULL,
    type TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (org, path, variant))
"""

FIXTURE_ORGANIZATION = "scala"
FIXTURE_USERS = (("test@goexp.io", "test-Password1"), ("test@test.com", "12345test"))  # snapshot, 5.0.0
FIXTURE_UUID = "test-uuid"
FIXTURE_DEVICE_SECRET = "test-secret"
FIXTURE_API_KEY = "test-api-key"


def layout_key(location):
    """Where a location's layout bytes are kept among the blobs (content
    paths all start with "/", so no delivery path reaches it)."""
    return f"layout:{location}"


def image_type(data):
    """The raster image type the bytes are (by their signature), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None  # SVG too: it may carry script, run in the server's origin (the portal's) when opened


class ExpApiError(Exception):
    """An answer in EXP's error shape: {"code", "message", "status"}."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self):
        return {"code": self.code, "message": self.message, "status": self.status}


def bad_request(message):
    return ExpApiError(400, "request.invalid", message)


def not_found(kind):
    return ExpApiError(404, "resource.notFound", f"{kind} not found.")


def conflict(message):
    return ExpApiError(409, "resource.conflict", message)


class Identity(NamedTuple):
    """Who a token speaks for. `org` is None for a pairing device."""

    type: str  # "user", "device" or "consumerApp"
    uuid: str | None
    org: str | None
    username: str | None = None
    role: str | None = None
    pairing: bool = False

    def payload(self):
        """The `identity` of the auth payload (spec 2.2)."""
        shown = {"type": self.type, "uuid": self.uuid, "organization": self.org}
        if self.username is not None:
            shown["username"] = self.username
            shown["role"] = self.role
        if self.pairing:
            shown["isPairing"] = True
        return shown


def _text(value):
    """A scalar as a query string would spell it (filters compare text)."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def matches(value, parts, wanted):
    """Whether the document value at dotted path `parts` equals `wanted`
    (text); at any list along the path, any element may match (Mongo's rule)."""
    if isinstance(value, list):
        return any(matches(item, parts, wanted) for item in value)
    if not parts:
        return _text(value) == wanted
    if not isinstance(value, dict) or parts[0] not in value:
        return False
    return matches(value[parts[0]], parts[1:], wanted)


def _inside_app(item, content):
    """Whether a content item lies inside an app (hidden from finds unless
    appContent=include)."""
    parent = content.get(item.get("parent"))
    while parent is not None:
        if parent.get("subtype") == APP:
            return True
        parent = content.get(parent.get("parent"))
    return False


def _hash_password(password, salt):
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, PASSWORD_ROUNDS)


class ExpState:
    def __init__(self, database):
        self.database = database
        self.db = database.db
        self.token_lifetime = DEFAULT_TOKEN_LIFETIME
        self.fixtures = True
        self._organizations = set()
        self._users = {}  # (org, username) -> (salt, hash, role)
        self._docs = {}  # (org, collection) -> {key: document}, key = uuid or (group, key) for data
        self._device_orgs = {}  # device uuid -> org (logins name only the uuid)
        self._app_orgs = {}  # consumer app uuid -> org
        self._tokens = {}  # token -> (identity, expires, restricted): verified tokens
        with database.lock:
            self.fresh = database.db.execute(
                "SELECT 1 FROM schema_versions WHERE component = 'exp'").fetchone() is None
            database.schema("exp", 1, SCHEMA)
            self._key = self._signing_key()
            self._load()
            database.commit()

    # --- loading -------------------------------------------------------------
    def _signing_key(self):
        row = self.db.execute("SELECT value FROM exp_meta WHERE key = 'token_key'").fetchone()
        if row:
            return bytes.fromhex(row[0])
        key = secrets.token_bytes(32)
        self.database.touch()
        self.db.execute("INSERT INTO exp_meta (key, value) VALUES ('token_key', ?)", (key.hex(),))
        return key

    def _load(self):
        self._organizations.update(name for name, in self.db.execute("SELECT name FROM exp_organizations"))
        for org, username, salt, hashed, role in self.db.execute(
                "SELECT org, username, salt, hash, role FROM exp_users"):
            self._users[(org, username)] = (salt, hashed, role)
        for org, collection, key, body in self.db.execute(
                "SELECT org, collection, uuid, body FROM exp_documents ORDER BY id"):
            if collection == DATA:
                key = tuple(orjson.loads(key))
            self._index(org, collection, key, orjson.loads(body))

    def _index(self, org, collection, key, document):
        self._docs.setdefault((org, collection), {})[key] = document
        if collection == "devices":
            self._device_orgs[key] = org
        elif collection == CONSUMER_APPS:
            self._app_orgs[key] = org

    # --- writing -------------------------------------------------------------
    def _put(self, org, collection, key, document):
        body = orjson.dumps(document)
        self.database.touch()
        self.db.execute(
            "INSERT INTO exp_documents (org, collection, uuid, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (org, collection, uuid) DO UPDATE SET body = excluded.body",
            (org, collection, self._stored_key(collection, key), body))
        self._index(org, collection, key, document)

    def _remove(self, org, collection, key):
        self.database.touch()
        self.db.execute("DELETE FROM exp_documents WHERE org = ? AND collection = ? AND uuid = ?",
                        (org, collection, self._stored_key(collection, key)))
        del self._docs[(org, collection)][key]
        if collection == "devices":
            del self._device_orgs[key]

    @staticmethod
    def _stored_key(collection, key):
        return orjson.dumps(list(key)).decode() if collection == DATA else key

    # --- organizations, users, consumer apps -----------------------------------
    def create_organization(self, name):
        if name in self._organizations:
            raise conflict(f"Organization {name} exists.")
        self.database.touch()
        self.db.execute("INSERT INTO exp_organizations (name, created) VALUES (?, ?)", (name, time.time()))
        self._organizations.add(name)
        self._put_blobs(name, seed_content(self, name))

    def add_user(self, org, username, password, role="admin"):
        salt = os.urandom(16)
        hashed = _hash_password(password, salt)
        self.database.touch()
        self.db.execute("INSERT OR REPLACE INTO exp_users (org, username, salt, hash, role) VALUES (?, ?, ?, ?, ?)",
                        (org, username, salt, hashed, role))
        self._users[(org, username)] = (salt, hashed, role)

    def add_consumer_app(self, org, app_uuid, api_key, name):
        if app_uuid in self._app_orgs:
            raise conflict(f"Consumer app {app_uuid} exists.")
        self._put(org, CONSUMER_APPS, app_uuid, {"uuid": app_uuid, "name": name, "apiKey": api_key, "org": org})

    def seed_fixtures(self):
        """The accounts and content of spec/exp.md 5.1 (organization scala)."""
        self.create_organization(FIXTURE_ORGANIZATION)
        for username, password in FIXTURE_USERS:
            self.add_user(FIXTURE_ORGANIZATION, username, password)
        self.create(FIXTURE_ORGANIZATION, "devices",
                    {"uuid": FIXTURE_UUID, "name": "Test device", "secret": FIXTURE_DEVICE_SECRET})
        self.add_consumer_app(FIXTURE_ORGANIZATION, FIXTURE_UUID, FIXTURE_API_KEY, "Test consumer app")

    def fixture_organization(self):
        """A new organization with one user, device and consumer app of
        random credentials (the fixture endpoint): tests isolate in it."""
        org = f"org-{secrets.token_hex(6)}"
        self.create_organization(org)
        password = secrets.token_urlsafe(12)
        username = f"user@{org}.test"
        self.add_user(org, username, password)
        device = self.create(org, "devices", {"name": "Fixture device"})
        app_uuid, api_key = str(uuidlib.uuid4()), secrets.token_hex(24)
        self.add_consumer_app(org, app_uuid, api_key, "Fixture consumer app")
        return {"organization": org,
                "user": {"username": username, "password": password, "organization": org},
                "device": {"uuid": device["uuid"], "secret": device["secret"]},
                "consumerApp": {"uuid": app_uuid, "api_key": api_key}}

    # --- logins and tokens -------------------------------------------------------
    def user_login(self, username, password, org):
        user = self._users.get((org, username))
        if user is None or not isinstance(password, str):
            return None
        salt, hashed, role = user
        if not hmac.compare_digest(_hash_password(password, salt), hashed):
            return None
        return Identity("user", f"{org}:{username}", org, username=username, role=role)

    def jwt_login(self, token):
        """The identity a device or consumer-app login token (spec 2.1) proves,
        a pairing identity for a device allowed to pair, or None."""
        try:
            claims = _jws.claims_unverified(token)
        except _jws.InvalidTokenError:
            return None
        kind, claimed = claims.get("type"), claims.get("uuid")
        if kind == "device":
            org, collection = self._device_orgs.get(claimed), "devices"
            key_field = "secret"
        elif kind == "consumerApp":
            org, collection = self._app_orgs.get(claimed), CONSUMER_APPS
            key_field = "apiKey"
        else:
            return None
        if org is not None:
            key = self._docs[(org, collection)][claimed].get(key_field)
            if isinstance(key, str):
                try:
                    _jws.verify(token, key)
                    return Identity(kind, claimed, org)
                except _jws.InvalidTokenError:
                    pass
        if kind == "device" and claims.get("allowPairing"):
            return Identity("device", str(uuidlib.uuid4()), None, pairing=True)
        return None

    def still_valid(self, identity):
        """Whether the account behind an identity still exists (refresh)."""
        if identity.pairing:
            return True
        if identity.type == "user":
            return (identity.org, identity.username) in self._users
        if identity.type == "device":
            return self._device_orgs.get(identity.uuid) == identity.org
        return self._app_orgs.get(identity.uuid) == identity.org

    def _seal(self, claims):
        """A token of the server's own: base64url(JSON claims) "." base64url(
        HMAC-SHA256 with the key the database keeps). Only this server reads
        it, so it carries no JWT header; tokens survive a restart."""
        body = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
        mac = base64.urlsafe_b64encode(hmac.digest(self._key, body, "sha256")).rstrip(b"=")
        return (body + b"." + mac).decode("ascii")

    def _unseal(self, token):
        """The claims of a token _seal made, or None."""
        try:
            body, _, mac = token.encode("ascii").partition(b".")
            if not hmac.compare_digest(base64.urlsafe_b64decode(mac + b"=" * (-len(mac) % 4)),
                                       hmac.digest(self._key, body, "sha256")):
                return None
            return orjson.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        except (UnicodeEncodeError, binascii.Error, ValueError):
            return None

    def issue(self, identity):
        """(token, expiration in epoch ms, restricted token) for identity."""
        now = time.time()
        expires = now + self.token_lifetime
        claims = [identity.type, identity.uuid, identity.org, identity.username, identity.role, identity.pairing,
                  expires, False, secrets.token_hex(8)]
        token = self._seal(claims)
        claims[6:8] = [now + RESTRICTED_TOKEN_LIFETIME, True]
        return token, int(expires * 1000), self._seal(claims)

    def identity_of(self, token, restricted=False):
        """The identity of an unexpired token this server issued, or None. A
        restricted token (`_rt`) is accepted only where `restricted` is true."""
        if not isinstance(token, str):
            return None
        known = self._tokens.get(token)
        if known is None:
            claims = self._unseal(token)
            if not isinstance(claims, list) or len(claims) != 9:
                return None
            known = (Identity(*claims[:6]), claims[6], claims[7])
            if len(self._tokens) >= TOKEN_CACHE_SIZE:
                self._tokens.clear()
            self._tokens[token] = known
        identity, expires, is_restricted = known
        if expires < time.time() or (is_restricted and not restricted):
            return None
        return identity

    # --- documents -----------------------------------------------------------------
    def _collection(self, org, collection):
        return self._docs.get((org, collection), {})

    def get(self, org, collection, key):
        document = self._collection(org, collection).get(key)
        if document is None:
            raise not_found(COLLECTIONS.get(collection, "Data"))
        return document

    def find(self, org, collection, query):
        """{"results", "total"} of the documents matching every filter of
        `query` (name -> text); `limit`/`skip` page the results."""
        try:
            skip = max(int(query.get("skip", 0)), 0)
            limit = int(query["limit"]) if "limit" in query else None
        except ValueError:
            raise bad_request("limit and skip must be integers.") from None
        filters = [(name.split("."), value) for name, value in query.items() if name not in RESERVED_PARAMS]
        by_key = self._collection(org, collection)
        documents = by_key.values()
        if collection == "content" and query.get("appContent") != "include":
            documents = [document for document in documents if not _inside_app(document, by_key)]
        found = [document for document in documents
                 if all(matches(document, parts, value) for parts, value in filters)]
        page = found[skip:] if limit is None else found[skip:skip + max(limit, 0)]
        return {"results": page, "total": len(found)}

    def create(self, org, collection, document):
        kind = COLLECTIONS[collection]
        if not isinstance(document, dict):
            raise bad_request(f"A {kind.lower()} must be a JSON object.")
        document = dict(document)
        wanted = document.get("uuid")
        if wanted is not None and (not isinstance(wanted, str) or not wanted):
            raise bad_request("uuid must be a non-empty string.")
        new_uuid = wanted or str(uuidlib.uuid4())
        taken = (new_uuid in self._device_orgs if collection == "devices"
                 else new_uuid in self._collection(org, collection))
        if taken:
            raise conflict(f"{kind} {new_uuid} exists.")
        document["uuid"] = new_uuid
        document["org"] = org
        document.setdefault("name", f"{kind} {new_uuid}")
        if collection == "devices":
            document.setdefault("secret", secrets.token_hex(48))
        if collection == "experiences":
            self._check_experience_name(org, document["name"], new_uuid)
        self._put(org, collection, new_uuid, document)
        return document

    def patch(self, org, collection, key, changes):
        document = self.get(org, collection, key)
        if not isinstance(changes, dict):
            raise bad_request(f"A {COLLECTIONS[collection].lower()} must be a JSON object.")
        updated = {**document, **changes, "uuid": document["uuid"], "org": org}
        if collection == "experiences" and updated.get("name") != document.get("name"):
            self._check_experience_name(org, updated.get("name"), key)
        self._put(org, collection, key, updated)
        return updated

    def delete(self, org, collection, key):
        self.get(org, collection, key)
        self._remove(org, collection, key)
        if collection == "locations":
            self._delete_blobs(org, layout_key(key))

    def _check_experience_name(self, org, name, own_uuid):
        for other in self._collection(org, "experiences").values():
            if other["uuid"] != own_uuid and other.get("name") == name:
                raise conflict(f"An experience named {name} exists.")

    # --- data ------------------------------------------------------------------------
    def put_data(self, org, group, key, value):
        if not isinstance(value, dict):
            raise bad_request("The value of data must be a JSON object.")
        document = {"group": group, "key": key, "value": value, "org": org}
        self._put(org, DATA, (group, key), document)
        return document

    def delete_data(self, org, group, key):
        self.get(org, DATA, (group, key))
        self._remove(org, DATA, (group, key))

    # --- content bytes -------------------------------------------------------------
    def _put_blobs(self, org, blobs):
        self.database.touch()
        self.db.executemany("INSERT OR REPLACE INTO exp_blobs (org, path, variant, type, data) VALUES (?, ?, ?, ?, ?)",
                            [(org, path, variant, mime, data) for path, variant, mime, data in blobs])

    def _delete_blobs(self, org, path, variant=None):
        """Deletes an item's bytes: one variant, or with None all of them."""
        self.database.touch()
        if variant is None:
            self.db.execute("DELETE FROM exp_blobs WHERE org = ? AND path = ?", (org, path))
        else:
            self.db.execute("DELETE FROM exp_blobs WHERE org = ? AND path = ? AND variant = ?", (org, path, variant))

    def blob(self, org, path, variant):
        """(mime type, bytes) of a content item or one of its variants, or None."""
        return self.db.execute("SELECT type, data FROM exp_blobs WHERE org = ? AND path = ? AND variant = ?",
                               (org, path, variant or "")).fetchone()

    # --- location layouts ------------------------------------------------------------
    def put_layout(self, org, location, variant, data):
        """Stores a location's layout image (or a named variant of it) and
        answers what was stored; 400 unless the bytes are an image."""
        self.get(org, "locations", location)
        mime = image_type(data)
        if mime is None:
            raise bad_request("A layout is a PNG, JPEG, GIF or WebP image.")
        if variant and self.blob(org, layout_key(location), "") is None:
            raise bad_request("Store the layout before its variants.")
        self._put_blobs(org, [(layout_key(location), variant or "", mime, data)])
        return {"location": location, "variant": variant or None, "mimeType": mime, "size": len(data)}

    def layout(self, org, location, variant):
        """(mime type, bytes) of a location's layout or one of its variants;
        404 for an unknown location or a layout not stored."""
        self.get(org, "locations", location)
        found = self.blob(org, layout_key(location), variant)
        if found is None:
            raise not_found("Layout variant" if variant else "Layout")
        return found

    def delete_layout(self, org, location, variant):
        """Deletes a variant, or without one the layout and every variant."""
        self.layout(org, location, variant)
        self._delete_blobs(org, layout_key(location), variant or None)

    def insert_content(self, org, document):
        """Seeding: a content item (content is read-only over the API)."""
        document = {**document, "org": org}
        self._put(org, "content", document["uuid"], document)
