"""Channel ids of EXP's real-time network (spec/exp.md 4.3), shared by the
SDK and the embedded server: standard base64 (with padding) of the compact
JSON array [organization, name, system 0/1, consumer 0/1]."""
import base64
import binascii
import json
from typing import NamedTuple


class Channel(NamedTuple):
    organization: str | None
    name: str
    system: bool
    consumer: bool


def channel_id(organization, name, system=False, consumer=False):
    text = json.dumps([organization, name, 1 if system else 0, 1 if consumer else 0], separators=(",", ":"))
    return base64.b64encode(text.encode("ascii")).decode("ascii")


def parse_channel_id(value):
    """The Channel a channel id names, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        fields = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(fields, list) or len(fields) != 4:
        return None
    organization, name, system, consumer = fields
    if not (organization is None or isinstance(organization, str)) or not isinstance(name, str) \
            or system not in (0, 1) or consumer not in (0, 1) or isinstance(system, bool) or isinstance(consumer, bool):
        return None
    return Channel(organization, name, bool(system), bool(consumer))
