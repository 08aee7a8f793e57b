"""Stream (spec m2x.md §5.3)."""
from .. import values
from .resource import Resource


class Stream(Resource):
    COLLECTION_PATH = "devices/{device_id}/streams"
    ITEM_PATH = "devices/{device_id}/streams/{name}"
    ID_KEY = "name"
    ITEMS_KEY = "streams"

    def __init__(self, api, device, **data):
        self.device = device
        super().__init__(api, **data)

    def update(self, **attrs):
        self.data.update(self.item_update(self.api, self.device, self.name, **attrs))
        return self.data

    def remove(self):
        return self.api.delete(self.item_path(self.name, device_id=self.device.id))

    def subpath(self, path):
        return self.item_path(self.name, device_id=self.device.id) + path

    def values(self, **params):
        return self.api.get(self.subpath("/values"), params=params)

    def sampling(self, interval, **params):
        params["interval"] = interval
        return self.api.get(self.subpath("/sampling"), params=params)

    def stats(self, **attrs):
        return self.api.get(self.subpath("/stats"), data=attrs)

    def add_value(self, value, timestamp=None):
        data = {"value": value}
        if timestamp:
            data["timestamp"] = timestamp
        return self.api.put(self.subpath("/value"), data=data)

    update_value = add_value

    def post_values(self, values_):
        """POST /values of a value list: [{"timestamp": t, "value": v}, ...],
        a (datetime64 timestamps, values) pair of arrays, a structured array
        with fields timestamp and value, or a pandas Series with a
        DatetimeIndex. Encoded in C and sent within the server's limits."""
        return values.post_values(self.api, self.subpath("/values"), values_)

    def delete_values(self, start, stop):
        return self.api.delete(self.subpath("/values"), data=self.to_server({"from": start, "end": stop}))

    @classmethod
    def list(cls, api, device, **params):
        return super().list(api, path=cls.collection_path(device_id=device.id), itemize_options={"device": device},
                            **params)

    @classmethod
    def create(cls, api, device, name, **attrs):
        response = cls.item_update(api, device, name, **attrs)
        return cls.item(api, response, device=device)

    @classmethod
    def get(cls, api, device, id, **params):
        return super().get(api, id, device_id=device.id, itemize_options={"device": device}, **params)

    fetch = get

    @classmethod
    def item_update(cls, api, device, id, **params):
        return super().item_update(api, id, path=cls.item_path(id, device_id=device.id), **params)
