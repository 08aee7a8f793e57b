"""HTTP helpers every client shares: a request as a curl command line (for
the `curldebug` logs, credentials redacted) and the text of a response body
(charset handling)."""

#: Request headers that carry a credential (One Platform, Provisioning, M2X, EXP).
CREDENTIAL_HEADERS = frozenset(("x-exosite-cik", "x-exosite-token", "x-m2x-key", "authorization"))
REDACTED = "<redacted>"


def redacted_headers(headers):
    """`headers` with the value of every credential header replaced by <redacted>."""
    return {name: REDACTED if name.lower() in CREDENTIAL_HEADERS else value
            for name, value in headers.items()}


def _shell_quote(text):
    """`text` single-quoted for a POSIX shell, as pyonep's curldebug writes it."""
    return "'" + text.replace("'", "'\\''") + "'"


def curl_command(method, url, headers, body=None, timeout=None):
    """The request as pyonep's curldebug line: curl '<url>' -X <method>
    [-m <timeout>] -H '<name>: <value>'... [-d '<body>'], with credential
    headers redacted (a credential inside the body is the caller's to redact)."""
    parts = ["curl", _shell_quote(url), "-X", method]
    if timeout is not None:
        parts += ["-m", str(timeout)]
    for name, value in redacted_headers(headers).items():
        parts += ["-H", _shell_quote(f"{name}: {value}")]
    if body:
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        parts += ["-d", _shell_quote(body)]
    return " ".join(parts)


def content_charset(content_type):
    """The charset parameter of a Content-Type value, or None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        value = value.strip().strip("\"'")
        if name.strip().lower() == "charset" and value:
            return value
    return None


def text_encoding(content_type):
    """The encoding of a body of this Content-Type, as requests tells it (and
    so the upstream clients): its charset; else ISO-8859-1 for text/* (the
    HTTP/1.1 default of RFC 2616); else None."""
    charset = content_charset(content_type)
    if charset is None and content_type.strip().lower().startswith("text/"):
        return "ISO-8859-1"
    return charset


def decode_text(data, content_type):
    """`data` as text: in text_encoding(content_type) (undecodable bytes
    replaced); without one, or with an unknown charset name, UTF-8, else
    ISO-8859-1 (which decodes any bytes)."""
    encoding = text_encoding(content_type)
    if encoding is not None:
        try:
            return data.decode(encoding, errors="replace")
        except LookupError:  # an unknown charset name
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("iso-8859-1")
