"""The HTTP helpers every client shares (pyonep_fast._http): one charset rule
for every response's text, one curl line with credentials redacted."""
import shlex

import pytest

from pyonep_fast._http import content_charset, curl_command
from pyonep_fast.provision import RawResponse
from pyonep_fast.transport import Transport
from scripted_http import ScriptedServer

# (Content-Type, body bytes) -> (encoding requests would name, text)
CASES = [
    ("text/plain; charset=utf-8", "d\u00e9j\u00e0".encode(), "utf-8", "d\u00e9j\u00e0"),
    ("text/csv", "d\u00e9j\u00e0".encode("latin-1"), "ISO-8859-1", "d\u00e9j\u00e0"),
    ("text/csv", "d\u00e9j\u00e0".encode(), "ISO-8859-1", "d\u00c3\u00a9j\u00c3\u00a0"),  # RFC 2616 default
    ("application/json", "d\u00e9j\u00e0".encode(), None, "d\u00e9j\u00e0"),
    ("application/octet-stream", b"\xff\x00A", None, "\xff\x00A"),
    ("text/plain; Charset = 'UTF-16-LE'", "\u20ac1".encode("utf-16-le"), "UTF-16-LE", "\u20ac1"),
    ('text/plain; charset="no-such-codec"', "\u00e9".encode(), "no-such-codec", "\u00e9"),
    ("text/plain; charset=ascii", b"a\xffb", "ascii", "a\ufffdb"),
    ("", b"plain", None, "plain"),
]


def raw_response(content_type, body):
    head = "HTTP/1.1 200 OK\r\n" + (f"Content-Type: {content_type}\r\n" if content_type else "")
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


@pytest.mark.parametrize("content_type,body,encoding,text", CASES)
def test_one_charset_rule_for_every_client(content_type, body, encoding, text):
    with ScriptedServer(lambda request: raw_response(content_type, body)) as server, \
            Transport(server.url) as client:
        response = client.request("GET", "/")
    assert response.text == text
    provision_view = RawResponse(response)
    assert provision_view.encoding == encoding and provision_view.text == text


def test_content_charset():
    assert content_charset("text/html;charset=ISO-8859-4") == "ISO-8859-4"
    assert content_charset("text/html; boundary=x; charset=\"koi8-r\"") == "koi8-r"
    assert content_charset("text/html; charset=") is None
    assert content_charset("charset=utf-8") is None  # the media type, not a parameter


def test_curl_command_quotes_for_the_shell_and_redacts_credentials():
    headers = {"X-M2X-KEY": "m2x-secret", "authorization": "Bearer exp-secret", "X-Exosite-CIK": "cik-secret",
               "x-exosite-token": "token-secret", "Content-Type": "application/json"}
    line = curl_command("PUT", "http://h:1/v2/devices/it's", headers, b'{"name": "it\'s"}', 5)
    assert "secret" not in line and line.count("<redacted>") == 4
    assert shlex.split(line) == [
        "curl", "http://h:1/v2/devices/it's", "-X", "PUT", "-m", "5",
        "-H", "X-M2X-KEY: <redacted>", "-H", "authorization: <redacted>", "-H", "X-Exosite-CIK: <redacted>",
        "-H", "x-exosite-token: <redacted>", "-H", "Content-Type: application/json",
        "-d", '{"name": "it\'s"}']
    assert curl_command("GET", "http://h/", {}) == "curl 'http://h/' -X GET"
