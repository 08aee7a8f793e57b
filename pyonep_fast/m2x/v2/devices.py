"""Device (spec m2x.md §5.2)."""
from .. import values
from .keys import Key
from .metadata import Metadata
from .resource import Resource
from .streams import Stream


class Device(Resource, Metadata):
    COLLECTION_PATH = "devices"
    ITEM_PATH = "devices/{id}"
    ITEMS_KEY = "devices"

    def streams(self):
        return Stream.list(self.api, self)

    def stream(self, name):
        return Stream.get(self.api, self, name)

    def create_stream(self, name, **params):
        return Stream.create(self.api, self, name, **params)

    def update_stream(self, name, **params):
        return Stream.item_update(self.api, self, name, **params)

    def keys(self):
        return Key.list(self.api, device=self.id)

    def create_key(self, **params):
        return Key.create(self.api, device=self.id, **params)

    def location(self):
        return self.data.get("location") or self.api.get(self.subpath("/location")) or {}

    def location_history(self, **params):
        return self.api.get(self.subpath("/location/waypoints"), params=params)

    def update_location(self, **params):
        return self.api.put(self.subpath("/location"), data=params)

    def delete_location_history(self, **kwargs):
        return self.api.delete(self.subpath("/location/waypoints"), **kwargs)

    def log(self):
        return self.api.get(self.subpath("/log"))

    def post_updates(self, **values_):
        """POST /updates: {"values": {stream: value list, ...}, ...}; value
        lists as Stream.post_values takes them (encoded in C, split within
        the server's limits)."""
        return values.post_updates(self.api, self.subpath("/updates"), values_)

    def post_update(self, **values_):
        return self.api.post(self.subpath("/update"), data=values_)

    def values(self, **params):
        return self.api.get(self.subpath("/values"), params=params)

    def values_export(self, **params):
        self.api.get(self.subpath("/values/export.csv"), params=params)
        return self.api.last_response

    def values_search(self, **params):
        return self.api.post(self.subpath("/values/search"), data=params)

    def commands(self, **params):
        return self.api.get(self.subpath("/commands"), params=params)

    def command(self, id):
        return self.api.get(self.subpath(f"/commands/{id}"))

    def process_command(self, id, **params):
        return self.api.post(self.subpath(f"/commands/{id}/process"), data=params)

    def reject_command(self, id, **params):
        return self.api.post(self.subpath(f"/commands/{id}/reject"), data=params)

    @classmethod
    def by_tags(cls, api):
        response = api.get("devices/tags")
        return response and response.get("tags") or []

    @classmethod
    def catalog(cls, api, **kwargs):
        return cls.itemize(api, api.get("devices/catalog", **kwargs))

    @classmethod
    def search(cls, api, **kwargs):
        return cls.itemize(api, api.get("devices/search", **kwargs))
