"""Metadata: the `/metadata` endpoints of devices, distributions and
collections (spec m2x.md §5.7)."""


class Metadata:
    def metadata_path(self):
        return self.subpath("/metadata")

    def metadata_field_path(self, field):
        return self.subpath(f"/metadata/{field}")

    def read_metadata(self):
        return self.api.get(self.metadata_path())

    def read_metadata_field(self, field):
        return self.api.get(self.metadata_field_path(field))

    def update_metadata(self, params):
        return self.api.put(self.metadata_path(), data=params)

    def update_metadata_field(self, field, value):
        return self.api.put(self.metadata_field_path(field), data={"value": value})
