"""The content tree every organization starts with (spec/exp.md 3.3, 5.1):
the root folder, a folder inside a folder, a file with image variants, a
file without variants, an app with a file inside it, and a URL item. Every
item has uuid, name, subtype, path and parent; the bytes of files and
variants are served by /api/delivery/."""
import struct
import uuid as uuidlib
import zlib

FOLDER = "scala:content:folder"
FILE = "scala:content:file"
APP = "scala:content:app"
URL = "scala:content:url"
VARIANTS = ("100", "320", "1080")


def png(width, height):
    """A grey PNG image of the given size."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def item_uuid(org, path):
    """Seeded items get uuids derived from their path: stable across servers."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"exp-content:{org}:{path}"))


def seed_content(state, org):
    """Inserts the tree into `state` for `org`; returns the bytes to store as
    (path, variant, mime type, data), variant "" for the item itself."""
    root = f"/{org}"
    items = [
        # (path, subtype, extra fields)
        (f"{root}/Folder 1", FOLDER, {}),
        (f"{root}/Folder 1/Sub folder", FOLDER, {}),
        (f"{root}/Folder 1/image.png", FILE, {"mimeType": "image/png", "variants": [{"name": v} for v in VARIANTS]}),
        (f"{root}/Folder 1/Sub folder/readme.txt", FILE, {"mimeType": "text/plain"}),
        (f"{root}/Player", APP, {}),
        (f"{root}/Player/index.html", FILE, {"mimeType": "text/html"}),
        (f"{root}/Scala website", URL, {"url": "https://www.scala.com/"}),
    ]
    blobs = [
        (f"{root}/Folder 1/image.png", "", "image/png", png(64, 48)),
        *((f"{root}/Folder 1/image.png", v, "image/png", png(int(v), int(v) * 3 // 4)) for v in VARIANTS),
        (f"{root}/Folder 1/Sub folder/readme.txt", "", "text/plain", f"Content of {org}.\n".encode()),
        # an app is delivered as its entry page
        (f"{root}/Player", "", "text/html", b"<!doctype html><title>Player</title>\n"),
        (f"{root}/Player/index.html", "", "text/html", b"<!doctype html><title>Player</title>\n"),
    ]
    sizes = {path: len(data) for path, variant, _, data in blobs if not variant}
    state.insert_content(org, {"uuid": "root", "name": org, "subtype": FOLDER, "path": root, "parent": None})
    for path, subtype, extra in items:
        parent_path, _, name = path.rpartition("/")
        parent = "root" if parent_path == root else item_uuid(org, parent_path)
        document = {"uuid": item_uuid(org, path), "name": name, "subtype": subtype, "path": path,
                    "parent": parent, **extra}
        if path in sizes:
            document["size"] = sizes[path]
        state.insert_content(org, document)
    return blobs
