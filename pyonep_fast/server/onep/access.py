"""Who may do what in One Platform (spec 2.4, 3.23): the one access check.

Every path asks `Principal.allows`: RPC procedures (rpc.Call is a
Principal), the HTTP Data Interface (hdi.py) and the evaluation of
references (points.py: subscribe and preprocess operands, judged on the
authority of the client that made them, every time they are evaluated).
"""
import time

FULL = "full"    # in the calling client's subhierarchy
READ = "read"    # also public resources and activated shares (read-only procedures)

PROCEDURE_ALIASES = {"recordbatch": "record"}   # token permission that also allows this one


class Principal:
    """A client acting on its own authority, or through a token, which narrows
    it to the procedures the token lists."""

    __slots__ = ("caller", "token")

    def __init__(self, caller, token=None):
        self.caller = caller
        self.token = token

    def allows(self, procedure, res, level=FULL):
        """True if `procedure` may act on res. READ admits public resources and
        shares the caller activated; use it only for procedures that read. A
        token is checked as it is now (expired or ended: nothing)."""
        if self.token is not None and not (self.token.alive(int(time.time())) and
                                           token_permits(self.token, procedure, res)):
            return False
        return self.reaches(res, level)

    def reaches(self, res, level=FULL):
        """Access to res by the client alone (tokens aside)."""
        if res.is_within(self.caller):
            return True
        return level == READ and readable_by(self.caller, res)

    def info_options(self, res):
        """The info options (spec 3.11, 2.4) this principal may see of res, which
        it may `info` at READ level: read-only access shows basic and
        description; `key` goes to the direct owner only (never to a token);
        `shares` and `tagged` to res itself and its direct owner (shares
        through a token only with `share` on res); the rest to any ancestor."""
        kinds = CLIENT_INFO if res.is_client else DATA_INFO
        if not self.reaches(res):
            return {"basic", "description"}
        self_or_owner = res is self.caller or res.owner is self.caller
        visible = set(kinds) - {"key", "shares", "tagged"}
        if "key" in kinds and res.owner is self.caller and self.token is None:
            visible.add("key")
        if self_or_owner:
            visible.add("tagged")
            if self.token is None or token_permits(self.token, "share", res):
                visible.add("shares")
        return visible

    def sees_aliases_of(self, holder):
        """True if the alias lists a client holds are shown to this principal
        (holder itself or its direct owner); others see "undefined" (spec 3.11)."""
        return holder is not None and (holder is self.caller or holder.owner is self.caller)


DATA_INFO = ("aliases", "basic", "comments", "description", "shares", "storage", "subscribers", "tagged", "tags")
CLIENT_INFO = ("aliases", "basic", "comments", "counts", "description", "key", "shares", "subscribers", "tagged",
               "tags", "usage")


def readable_by(client, res):
    """Read-only access: res is public, or client activated a share of res
    or of one of the clients above it."""
    if res.desc.get("public"):
        return True
    node = res
    while node is not None:
        if any(share.activator == client.rid for share in node.shares):
            return True
        node = node.owner
    return False


def token_permits(token, procedure, res):
    """Token rule (spec 3.23): the procedure is listed for res or an ancestor."""
    names = (procedure, PROCEDURE_ALIASES.get(procedure))
    node = res
    while node is not None:
        allowed = token.permissions.get(node.rid)
        if allowed and any(name in allowed for name in names if name):
            return True
        node = node.owner
    return False


def token_covers(token, store, permissions, expires):
    """True if a token with these permissions ({rid: [procedure]}) and expiry
    holds nothing `token` does not: what `token` may grant or be shown."""
    if token.expires is not None and (expires is None or expires > token.expires):
        return False
    for rid, names in permissions.items():
        res = store.get(rid)
        if res is None or not all(token_permits(token, name, res) for name in names):
            return False
    return True


def references(desc):
    """RIDs a description refers to: its subscribe source and preprocess operands."""
    found = [desc["subscribe"]] if desc.get("subscribe") else []
    found.extend(operand for _, operand in desc.get("preprocess", ()) if isinstance(operand, str))
    return found


def reference_allowed(store, holder, target):
    """True while the client that made holder's reference to target may read
    it (spec 2.4); holders from before referrers were recorded answer for
    their owner."""
    referrer = holder.owner if holder.referrer is None else store.get(holder.referrer)
    return referrer is not None and Principal(referrer).allows("read", target, READ)


def live_subscribers(store, source):
    """Resources subscribed to source whose reference is allowed now, in RID order."""
    found = []
    for rid in sorted(store.subscribers.get(source.rid, ())):
        sub = store.get(rid)
        if sub is not None and reference_allowed(store, sub, source):
            found.append(sub)
    return found
