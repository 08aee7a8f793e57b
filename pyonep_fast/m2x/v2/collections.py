"""Collection and its devices (spec m2x.md §5.5)."""
from .devices import Device
from .metadata import Metadata
from .resource import Resource


class CollectionDevice(Device):
    COLLECTION_PATH = "collections/{collection_id}/devices"


class Collection(Resource, Metadata):
    COLLECTION_PATH = "collections"
    ITEM_PATH = "collections/{id}"
    ITEMS_KEY = "collections"

    def devices(self, **params):
        return CollectionDevice.list(self.api, collection_id=self.id, **params)

    def add_device(self, device_id):
        return self.api.put(self.subpath(f"/devices/{device_id}"))

    def remove_device(self, device_id):
        return self.api.delete(self.subpath(f"/devices/{device_id}"))
