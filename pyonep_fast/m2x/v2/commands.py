"""Command (spec m2x.md §5.6)."""
from .resource import Resource


class Command(Resource):
    COLLECTION_PATH = "commands"
    ITEM_PATH = "commands/{id}"
    ITEMS_KEY = "commands"
