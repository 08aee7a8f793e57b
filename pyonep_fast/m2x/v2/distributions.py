"""Distribution and its devices (spec m2x.md §5.4)."""
from .devices import Device
from .metadata import Metadata
from .resource import Resource


class DistributionDevice(Device):
    COLLECTION_PATH = "distributions/{distribution_id}/devices"


class Distribution(Resource, Metadata):
    COLLECTION_PATH = "distributions"
    ITEM_PATH = "distributions/{id}"
    ITEMS_KEY = "distributions"

    def devices(self, **params):
        return DistributionDevice.list(self.api, distribution_id=self.id, **params)

    def add_device(self, params):
        return DistributionDevice.create(
            self.api, path=DistributionDevice.collection_path(distribution_id=self.id), **params)
