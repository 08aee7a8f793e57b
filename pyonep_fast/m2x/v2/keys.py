"""Key (spec m2x.md §5.6)."""
from .resource import Resource


class Key(Resource):
    COLLECTION_PATH = "keys"
    ITEM_PATH = "keys/{key}"
    ID_KEY = "key"
    ITEMS_KEY = "keys"

    def regenerate(self):
        self.data.update(self.api.post(self.subpath("/regenerate")))
