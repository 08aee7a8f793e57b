"""Job (spec m2x.md §5.6)."""
from .resource import Resource


class Job(Resource):
    COLLECTION_PATH = "jobs"
    ITEM_PATH = "jobs/{id}"
    ITEMS_KEY = "jobs"
