"""Decoding request bodies."""
import orjson


def decode_envelope(body):
    """The decoded request object, or None if the body is not valid JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
