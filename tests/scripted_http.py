"""A loopback HTTP/1.1 server whose every answer a test scripts: bad bodies,
`Connection: close`, dropped connections, slow answers, chunked bodies.

`respond(request)` returns the raw bytes to write back, or None to close the
connection without answering, or (bytes, True) to answer and then close. Each request is recorded with the index of the
TCP connection it came on.
"""
import socket
import threading
from dataclasses import dataclass


@dataclass
class Request:
    connection: int
    method: str
    target: str
    headers: dict  # lowercase names
    body: bytes


def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_response(body, status="200 OK", headers=(), close=False):
    if isinstance(body, str):
        body = body.encode()
    lines = [f"HTTP/1.1 {status}", "Content-Type: application/json; charset=utf-8",
             f"Content-Length: {len(body)}", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ScriptedServer:
    def __init__(self, respond, tls=None):
        """tls: an ssl.SSLContext (server side) to serve HTTPS instead."""
        self.respond = respond
        self.tls = tls
        self.requests = []
        self.connections = 0
        self.closed = 0  # connections this side has closed
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._threads = []
        self._sockets = []
        self._stopping = False
        self._lock = threading.Lock()
        accept = threading.Thread(target=self._accept, daemon=True)
        accept.start()
        self._threads.append(accept)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stopping = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self):
        while not self._stopping:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock, index):
        try:
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_side=True)
                except OSError:  # the client refused our certificate
                    return
            self._exchange(sock, index)
        finally:
            sock.close()
            with self._lock:
                self.closed += 1

    def _exchange(self, sock, index):
        buffer = b""
        while True:
            try:
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                start, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = start.split(" ", 2)
                headers = {}
                for line in lines:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", 0))
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                body, buffer = buffer[:length], buffer[length:]
                request = Request(index, method, target, headers, body)
                self.requests.append(request)
                answer = self.respond(request)
                close_after = False
                if isinstance(answer, tuple):
                    answer, close_after = answer
                if answer is None:
                    return
                sock.sendall(answer)
                head = answer.split(b"\r\n\r\n", 1)[0] + b"\r\n"
                if close_after or b"\r\nConnection: close\r\n" in head:
                    return
            except OSError:
                return
