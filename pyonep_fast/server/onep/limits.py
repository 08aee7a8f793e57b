"""Resource limits of clients (spec 2.3 `limits`): what is in force, what is used."""
from .errors import refused


def effective_limit(client, key):
    """The limit in force for client (None: unlimited); "inherit" walks up."""
    node = client
    while node is not None:
        value = node.desc["limits"].get(key, 0)
        if value != "inherit":
            return value
        node = node.owner
    return None


def owned_count(store, client, kind):
    if kind == "share":
        return sum(1 for share in store.shares.values() if share.creator == client.rid)
    return sum(1 for child in client.children.values() if child.type == kind)


def check_room(store, client, kind):
    limit = effective_limit(client, kind)
    if limit is not None and owned_count(store, client, kind) + 1 > limit:
        raise refused("limit")
