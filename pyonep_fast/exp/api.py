"""exp_sdk.api (spec/exp.md 1.4-1.6, 3): authenticated REST calls through
the project's Transport, the resource classes and Collection.

Port fixes of upstream bugs (spec 6.1): Experience/Location helpers filter
(upstream dropped the filter), zones of devices and things belong to their
Location, variant URLs carry the variant's name.
"""
import json
from urllib.parse import quote, urlencode, urlsplit

import orjson

from .. import transport as _transport
from ..exceptions import TransportError
from .exceptions import ApiError, UnexpectedError

__all__ = ["Api", "Collection", "CommonResource", "Content", "Data", "Device", "Experience", "Feed",
           "GetDevicesMixin", "GetExperienceMixin", "GetLocationMixin", "GetThingsMixin", "Location", "Resource",
           "Thing", "Zone"]

JSON_HEADERS = {"Content-Type": "application/json"}
CURRENT = object()  # Api.send's default token: the current auth's


def _parsed(data):
    """Parsed JSON of a body, None when it is empty or not JSON."""
    if not data:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class Api:
    """Authenticated calls to the host's API: one pooled keep-alive
    Transport per SDK instance, shared by every thread using it."""

    def __init__(self, sdk, transport_options=None):
        self._sdk = sdk
        host = _transport.redirected(sdk.options["host"])
        parts = urlsplit(host)
        # A host given with a path (or a trailing slash) prefixes every path, as upstream's `host + path`.
        self.prefix = parts.path
        self.base_url = host
        self.transport = _transport.Transport(f"{parts.scheme}://{parts.netloc}", **(transport_options or {}))

    def close(self):
        self.transport.close()

    def target(self, path, params=None):
        """The request target of `path` (percent-quoted, `/` kept) with the
        query of `params` (None values dropped; lists repeat the name)."""
        target = self.prefix + quote(path)
        if params:
            query = urlencode([(name, value) for name, value in params.items() if value is not None], doseq=True)
            if query:
                target += "?" + query
        return target

    def send(self, method, path, payload=None, params=None, timeout=10, token=CURRENT):
        """(status, body bytes) of one request. Raises UnexpectedError when
        no response arrived. The Bearer token is the current auth's (logging
        in or refreshing first if due), `token` if given, none if None."""
        headers = dict(JSON_HEADERS) if payload is not None else {}
        if token is CURRENT:
            token = self._sdk.authenticator.get_auth()["token"]
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            body = None if payload is None else json.dumps(payload, separators=(",", ":"), allow_nan=False)
            response = self.transport.request(method, self.target(path, params), body, headers, timeout=timeout)
        except (TransportError, TypeError, ValueError) as exc:
            raise UnexpectedError("API call encountered an unexpected error.") from exc
        return response.status, response.data

    def request(self, method, path, payload=None, params=None, timeout=10):
        """Parsed JSON of a 2xx answer (None for an empty or non-JSON body).
        An error answer raises ApiError (its JSON body's code and message) or
        UnexpectedError (no JSON body); an AuthenticationError from getting
        the token propagates (upstream masked it as UnexpectedError)."""
        status, data = self.send(method, path, payload, params, timeout)
        if status >= 400:
            body = _parsed(data)
            if not isinstance(body, dict):
                raise UnexpectedError("API call encountered an unexpected error.")
            raise ApiError(code=body.get("code"), message=body.get("message"), status_code=status, payload=body)
        return _parsed(data)

    def get(self, path, params=None, timeout=10):
        return self.request("GET", path, None, params, timeout)

    def post(self, path, payload=None, params=None, timeout=10):
        return self.request("POST", path, payload, params, timeout)

    def patch(self, path, payload=None, params=None, timeout=10):
        return self.request("PATCH", path, payload, params, timeout)

    def put(self, path, payload=None, params=None, timeout=10):
        return self.request("PUT", path, payload, params, timeout)

    def delete(self, path, payload=None, params=None, timeout=10):
        return self.request("DELETE", path, payload, params, timeout)


class Collection(list):
    """The resources of a find answer; every top-level key of the answer is
    also an attribute (`results`: the raw documents, `total`: the count).
    Arguments in upstream's order: the resource class, the answer, the SDK."""

    def __init__(self, resource_class, response, sdk):
        super().__init__([resource_class(document, sdk) for document in response["results"]])
        for name, value in response.items():
            setattr(self, name, value)


class Resource:
    _collection_path: str | None = None

    def __init__(self, document, sdk):
        self._document = document
        self._sdk = sdk

    @property
    def document(self):
        """The resource's dict; anything else stored (an answer without a
        JSON object, say) reads as a new empty dict, kept from then on."""
        if not isinstance(self._document, dict):
            self._document = {}
        return self._document

    @document.setter
    def document(self, value):
        self._document = value

    def _get_resource_path(self):
        raise NotImplementedError

    def _get_channel_name(self):
        raise NotImplementedError

    def save(self):
        self.document = self._sdk.api.patch(self._get_resource_path(), self.document)

    def refresh(self):
        self.document = self._sdk.api.get(self._get_resource_path())

    def get_channel(self, **kwargs):
        return self._sdk.network.get_channel(self._get_channel_name(), **kwargs)

    @classmethod
    def create(cls, document, sdk):
        return cls(sdk.api.post(cls._collection_path, document), sdk)

    @classmethod
    def find(cls, params, sdk):
        return Collection(cls, sdk.api.get(cls._collection_path, params), sdk)


def _document_field(name, writable=True, required=True):
    """A resource attribute kept in its document: read as document[name]
    (or None until set, when not `required`), written there when `writable`."""
    def get(self):
        return self.document[name] if required else self.document.get(name)

    def put(self, value):
        self.document[name] = value
    get.__name__ = put.__name__ = name      # named in AttributeError messages
    return property(get, put if writable else None)


class CommonResource(Resource):
    """A resource with a uuid and a name, at {collection}/{uuid}."""

    uuid = _document_field("uuid", writable=False)
    name = _document_field("name")

    def _get_resource_path(self):
        return f"{self._collection_path}/{self.uuid}"

    def _get_channel_name(self):
        return self.uuid

    def delete(self):
        return self._sdk.api.delete(self._get_resource_path())

    @classmethod
    def get(cls, uuid, sdk):
        """The resource, or None when uuid is not a non-empty str or the API
        answers 404."""
        if not uuid or not isinstance(uuid, str):
            return None
        try:
            return cls(sdk.api.get(f"{cls._collection_path}/{uuid}"), sdk)
        except ApiError as error:
            if error.status_code == 404:
                return None
            raise

    @classmethod
    def delete_(cls, uuid, sdk):
        if not uuid or not isinstance(uuid, str):
            return None
        return sdk.api.delete(f"{cls._collection_path}/{uuid}")


def _with(params, **filters):
    """params (the caller's dict, updated in place as upstream does) plus filters."""
    params = {} if params is None else params
    params.update(filters)
    return params


class GetLocationMixin:
    """get_location / get_zones of devices and things (their document's
    `location`: {uuid, zones: [{key}]})."""

    def get_location(self):
        return Location.get(self.document.get("location", {}).get("uuid"), self._sdk)

    def get_zones(self):
        location = self.get_location()
        if location is None:
            return []
        keys = {zone.get("key") for zone in self.document.get("location", {}).get("zones", [])}
        return [zone for zone in location.get_zones() if zone.document.get("key") in keys]


class GetExperienceMixin:
    def get_experience(self):
        return Experience.get(self.document.get("experience", {}).get("uuid"), self._sdk)


class GetDevicesMixin:
    """get_devices: the devices matching _get_device_query_params(params)."""

    def get_devices(self, params=None):
        return Device.find(self._get_device_query_params(params), self._sdk)


class GetThingsMixin:
    """get_things: the things matching _get_thing_query_params(params)."""

    def get_things(self, params=None):
        return Thing.find(self._get_thing_query_params(params), self._sdk)


class Device(GetLocationMixin, GetExperienceMixin, CommonResource):
    _collection_path = "/api/devices"

    @classmethod
    def get_current(cls, sdk):
        identity = sdk.authenticator.get_auth()["identity"]
        if identity.get("type") != "device":
            return None
        return cls.get(identity.get("uuid"), sdk)


class Thing(GetLocationMixin, CommonResource):
    _collection_path = "/api/things"


class Experience(GetDevicesMixin, CommonResource):
    _collection_path = "/api/experiences"

    def _get_device_query_params(self, params=None):
        return _with(params, **{"experience.uuid": self.uuid})

    @classmethod
    def get_current(cls, sdk):
        device = Device.get_current(sdk)
        return device.get_experience() if device else None


class Location(GetDevicesMixin, GetThingsMixin, CommonResource):
    _collection_path = "/api/locations"

    def _get_device_query_params(self, params=None):
        return _with(params, **{"location.uuid": self.uuid})

    _get_thing_query_params = _get_device_query_params

    def get_zones(self):
        return [Zone(document, self, self._sdk) for document in self.document.get("zones", [])]

    def get_layout_url(self):
        restricted = self._sdk.authenticator.get_auth()["restrictedToken"]
        return f"{self._get_resource_path()}/layout?_rt={restricted}"

    @classmethod
    def get_current(cls, sdk):
        device = Device.get_current(sdk)
        return device.get_location() if device else None


class Zone(GetDevicesMixin, GetThingsMixin, Resource):
    """A zone of a Location: a dict inside the location's `zones`."""

    def __init__(self, document, location, sdk):
        super().__init__(document, sdk)
        self._location = location

    key = _document_field("key", writable=False)
    name = _document_field("name")

    def get_location(self):
        return self._location

    def _get_device_query_params(self, params=None):
        return _with(params, **{"location.uuid": self._location.uuid, "location.zones.key": self.key})

    _get_thing_query_params = _get_device_query_params

    def save(self):
        self._location.save()
        self._reselect()

    def refresh(self):
        self._location.refresh()
        self._reselect()

    def _reselect(self):
        for document in self._location.document.get("zones", []):
            if document.get("key") == self.key:
                self.document = document
                return

    def _get_channel_name(self):
        return f"{self._location.uuid}:zone:{self.key}"

    @classmethod
    def get_current(cls, sdk):
        """The zones of the current device (none for other identities)."""
        device = Device.get_current(sdk)
        return device.get_zones() if device else []


class Feed(CommonResource):
    _collection_path = "/api/connectors/feeds"

    def get_data(self, **params):
        return self._sdk.api.get(f"{self._get_resource_path()}/data", params)


class Content(CommonResource):
    _collection_path = "/api/content"

    @property
    def subtype(self):
        return self.document.get("subtype")

    def get_children(self, params=None):
        return Content.find(_with(params, parent=self.uuid), self._sdk)

    def _delivery_url(self):
        restricted = self._sdk.authenticator.get_auth()["restrictedToken"]
        path = quote(self.document["path"].encode("utf-8"))
        return f"{self._sdk.api.base_url}/api/delivery/{path}?_rt={restricted}"

    def get_url(self):
        if self.subtype in ("scala:content:file", "scala:content:app"):
            return self._delivery_url()
        if self.subtype == "scala:content:url":
            return self.document.get("url")
        return None

    def has_variant(self, name):
        return name in [variant.get("name") for variant in self.document.get("variants", [])]

    def get_variant_url(self, name):
        return f"{self._delivery_url()}&variant={quote(str(name), safe='')}"

    def save(self):
        raise NotImplementedError("Content cannot be saved.")


class Data(Resource):
    _collection_path = "/api/data"

    group = _document_field("group", required=False)
    key = _document_field("key", required=False)
    value = _document_field("value", required=False)

    @staticmethod
    def _path(group, key):
        return f"/api/data/{group}/{key}"

    def _get_resource_path(self):
        return self._path(self.group, self.key)

    def _get_channel_name(self):
        return f"data:{self.group}:{self.key}"

    def save(self):
        self.document = self._sdk.api.put(self._get_resource_path(), self.value)

    def delete(self):
        self._sdk.api.delete(self._get_resource_path())

    @classmethod
    def get(cls, group, key, sdk):
        try:
            return cls(sdk.api.get(cls._path(group, key)), sdk)
        except ApiError as error:
            if error.status_code == 404:
                return None
            raise

    @classmethod
    def create(cls, group, key, value, sdk):
        return cls(sdk.api.put(cls._path(group, key), value), sdk)

    @classmethod
    def delete_(cls, group, key, sdk):
        sdk.api.delete(cls._path(group, key))


# Upstream's code reached the resource classes through the SDK's api
# (`sdk.api.Device.get(...)`); programs written against it may too.
for _resource in (Device, Thing, Experience, Location, Zone, Feed, Data, Content):
    setattr(Api, _resource.__name__, _resource)
del _resource
