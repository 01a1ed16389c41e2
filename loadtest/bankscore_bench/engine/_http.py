"""One HTTP request on a gevent socket, timed the way ab times it.

The socket work is gevent's and the response parsing is geventhttpclient's (its llhttp parser, the one under
Locust's ``FastHttpUser``). We drive them directly instead of through ``FastHttpSession`` because its
``urlopen`` hides what ab reports: the connect time, the first response byte, the bytes on the wire. Owning
the read loop gives all three exactly:

- connect: ``connect()`` (and the TLS handshake) of a new connection; 0 on a reused keep-alive connection;
- wait: request fully written -> first ``recv`` that returned data (the first response byte, ab's Waiting);
- total: start -> last response byte; bytes read: every byte ``recv`` returned, headers included.

Caveat, as with ab: on a loopback target the kernel may run the server inside our ``send()`` call, so a
fast local server's answer can already be waiting when the write returns (Waiting near 0, the time shows
up in Total).

The request bytes (head and body) are built once per payload before the run (``build_requests``). Responses
framed by a single Content-Length (what scoring servers send) are framed with a few byte searches; anything
else (chunked, read-until-close, HEAD, 1xx/204/304, duplicate lengths) goes through llhttp.
"""

from __future__ import annotations

import errno
import os
import re
import ssl
from collections.abc import Sequence
from time import perf_counter_ns
from typing import Final
from urllib.parse import urlsplit

import gevent.socket  # type: ignore[import-untyped]  # gevent ships no type hints
from geventhttpclient._parser import HTTPParseError, HTTPResponseParser

from bankscore._version import __version__
from bankscore_bench._payloads import Payload
from bankscore_bench._samples import Failure

__all__ = [
    "Connection",
    "Exchange",
    "Reader",
    "Target",
    "build_requests",
    "describe_error",
    "exchange",
    "framed_length",
    "keeps_alive",
]

_RECV_SIZE = 65536


class Target:
    """Where requests go: the address resolved once (no DNS lookup per request), TLS when https."""

    __slots__ = ("address", "family", "host", "path", "port", "server_hostname", "ssl_context", "timeout")

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self.ssl_context = ssl.create_default_context() if parts.scheme == "https" else None
        self.server_hostname = self.host
        self.family, self.address = _resolve(self.host, self.port)


def _resolve(host: str, port: int) -> tuple[int, tuple[str, int] | tuple[str, int, int, int]]:
    try:
        infos = gevent.socket.getaddrinfo(host, port, 0, gevent.socket.SOCK_STREAM)
    except OSError as exc:
        raise ValueError(f"url host {host!r} cannot be resolved: {exc.strerror or exc}") from None
    family, _, _, _, address = infos[0]
    return int(family), address


def build_requests(
    target: Target,
    method: str,
    headers: Sequence[tuple[str, str]],
    payloads: Sequence[Payload],
    content_type: str | None,
    *,
    keepalive: bool,
) -> list[bytes]:
    """The exact bytes of each request, one per payload (one for a request without a body)."""
    host = target.host if ":" not in target.host else f"[{target.host}]"
    default_port = 443 if target.ssl_context else 80
    fields: dict[str, tuple[str, str]] = {}

    def put(name: str, value: str) -> None:
        fields[name.lower()] = (name, value)

    put("Host", host if target.port == default_port else f"{host}:{target.port}")
    put("User-Agent", f"bankscore-bench/{__version__}")
    put("Accept", "*/*")
    # Without -k ab opens a connection per request; so do we, and say so to the server.
    put("Connection", "keep-alive" if keepalive else "close")
    if payloads and content_type:
        put("Content-Type", content_type)
    for name, value in headers:
        put(name, value)
    built = []
    for payload in payloads or (Payload(b"", 0),):
        lines = [f"{method} {target.path} HTTP/1.1"]
        lines += [f"{name}: {value}" for key, (name, value) in fields.items() if key != "content-length"]
        if payloads:
            lines.append(f"Content-Length: {len(payload.body)}")
        built.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload.body)
    return built


_SINK: Final[set[str]] = set()


class _Response(HTTPResponseParser):
    """geventhttpclient's llhttp parser, for the responses the Content-Length fast path does not frame.

    The header callbacks are C no-ops (``set.discard`` on an empty set): the head is kept as raw bytes by
    the read loop, and the few facts reported from it are read from there.
    """

    _on_message_begin = {}.clear
    _on_status = _SINK.discard
    _on_header_field = _SINK.discard
    _on_header_value = _SINK.discard

    def __init__(self, method: str) -> None:
        super().__init__()
        self.skip_body = method == "HEAD"
        self.body = bytearray()
        self.headers_complete = False
        self.message_complete = False

    def _on_headers_complete(self) -> bool:
        self.headers_complete = True
        return self.skip_body  # a HEAD response has no body whatever its Content-Length says

    def _on_body(self, data: bytes) -> None:
        self.body += data

    def _on_message_complete(self) -> None:
        self.message_complete = True


# Case-insensitive patterns searched between positions of the received bytes: no copy, no lowered copy.
_CONTENT_LENGTH: Final = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*(?=\r\n|$)", re.IGNORECASE)
_TRANSFER_ENCODING: Final = re.compile(rb"\r\ntransfer-encoding:", re.IGNORECASE)
_CONNECTION: Final = re.compile(rb"\r\nconnection:([^\r]*)", re.IGNORECASE)


def framed_length(head: bytes | bytearray, method: str, end: int | None = None) -> int:
    """Total bytes of a response whose framing is a single Content-Length, else -1 (llhttp decides).

    ``head[:end]`` (all of ``head`` without ``end``) is the response up to, not including, its blank line.
    Anything unusual (HEAD, 1xx/204/304, chunked transfer, no or several lengths, a malformed status line)
    goes to the full parser.
    """
    if end is None:
        end = len(head)
    if method == "HEAD" or not head.startswith(b"HTTP/1.") or head[8:9] != b" " or not head[9:12].isdigit():
        return -1
    status = int(head[9:12])
    if status < 200 or status in {204, 304}:
        return -1
    if _TRANSFER_ENCODING.search(head, 0, end):
        return -1
    lengths = _CONTENT_LENGTH.findall(head, 0, end)
    if len(lengths) != 1:
        return -1
    return end + 4 + int(lengths[0])


def keeps_alive(head: bytes | bytearray, end: int | None = None) -> bool:
    """HTTP/1.1 keeps the connection unless it says close; HTTP/1.0 only when it says keep-alive."""
    match = _CONNECTION.search(head, 0, len(head) if end is None else end)
    value = match.group(1).lower() if match else b""
    if head[5:8] == b"1.1":
        return b"close" not in value
    return b"keep-alive" in value


class Connection:
    """A user's connection, kept between requests only with keep-alive."""

    __slots__ = ("sock",)

    def __init__(self) -> None:
        self.sock: gevent.socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None


class Exchange:
    """What one request measured (times in perf_counter ns)."""

    __slots__ = (
        "body", "bytes_read", "connect_ns", "end_ns", "failure", "head", "keepalive", "reason",
        "start_ns", "status", "wait_ns", "write_error",
    )  # fmt: skip

    def __init__(self, start_ns: int) -> None:
        self.start_ns = start_ns
        self.connect_ns = 0
        self.wait_ns = 0
        self.end_ns = start_ns
        self.status = 0
        self.failure = Failure.NONE
        self.bytes_read = 0
        self.body: bytes | bytearray = b""
        self.keepalive = False
        self.head = b""  # the response's status line and headers, as received
        self.reason = ""
        self.write_error = False

    def server(self) -> str | None:
        """The response's Server header (looked up on demand: only the first response's is reported)."""
        for line in self.head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"server":
                return value.strip().decode("latin-1")
        return None


def _connect(target: Target) -> gevent.socket.socket:
    sock = gevent.socket.socket(target.family, gevent.socket.SOCK_STREAM)
    try:
        sock.settimeout(target.timeout)
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        _nonblocking_connect(sock, target.address)
        if target.ssl_context is not None:
            sock = target.ssl_context.wrap_socket(sock, server_hostname=target.server_hostname)
    except BaseException:
        sock.close()
        raise
    return sock


def _nonblocking_connect(sock: gevent.socket.socket, address: tuple[str, int] | tuple[str, int, int, int]) -> None:
    """gevent's ``connect`` with two system calls instead of four: one connect_ex, then one SO_ERROR check.

    gevent's own ``connect`` reads SO_ERROR, calls connect_ex, waits, then reads SO_ERROR and calls connect_ex
    again; without keep-alive that runs per request, and measured on loopback this saves about 10% of the
    engine's CPU per request. It uses gevent's socket internals (``_sock``, ``_wait``, ``_write_event``, the
    same ones its ``connect`` uses); test_engine's refused and timed-out connect tests guard them. The address
    is already resolved (``Target``), so unlike gevent's ``connect`` there is nothing to look up.
    """
    if not (hasattr(sock, "_sock") and hasattr(sock, "_wait") and hasattr(sock, "_write_event")):
        sock.connect(address)  # a gevent whose internals moved: its own connect, slower but right
        return
    err = sock._sock.connect_ex(address)
    if err == errno.EINPROGRESS:
        sock._wait(sock._write_event)  # gevent's wait: the socket's timeout, "timed out" when it expires
        err = sock.getsockopt(gevent.socket.SOL_SOCKET, gevent.socket.SO_ERROR)
    if err:
        raise OSError(err, os.strerror(err))


def exchange(target: Target, conn: Connection, request: bytes, method: str, *, keepalive: bool) -> Exchange:
    """Send ``request`` and read the whole response; never raises for network trouble (it is classified)."""
    result = Exchange(perf_counter_ns())
    reused = conn.sock is not None
    for _ in range(2):  # a kept-alive connection the server closed while idle is reopened once, as ab does
        if conn.sock is None:
            try:
                conn.sock = _connect(target)
            except (OSError, ssl.SSLError) as exc:
                result.end_ns = perf_counter_ns()
                result.failure, result.reason = Failure.CONNECT, describe_error(exc)
                return result
            result.connect_ns = perf_counter_ns() - result.start_ns
        if _send_and_read(conn, request, method, result) or not reused:
            break
        reused = False
        result.bytes_read = 0
        result.failure, result.reason, result.write_error = Failure.NONE, "", False
    if not (keepalive and result.keepalive):
        conn.close()
    return result


def _send_and_read(conn: Connection, request: bytes, method: str, result: Exchange) -> bool:
    """Fill ``result``; False only when a reused connection turned out closed before any response byte."""
    sock = conn.sock
    assert sock is not None
    try:
        # send() first: a request fits the socket buffer in one call, and gevent's sendall() costs more
        # Python per call than the rest of the exchange; sendall() finishes what send() leaves.
        sent = sock.send(request)
        if sent < len(request):
            sock.sendall(memoryview(request)[sent:])
    except OSError as exc:
        conn.close()
        if exc.errno in {errno.EPIPE, errno.ECONNRESET} and result.connect_ns == 0:
            return False
        result.end_ns = perf_counter_ns()
        result.failure, result.reason, result.write_error = Failure.EXCEPTION, describe_error(exc), True
        return True
    written = perf_counter_ns()
    reader = Reader(method)
    try:
        while True:
            data = sock.recv(_RECV_SIZE)
            if not reader.buffer:
                if not data and result.connect_ns == 0:
                    conn.close()
                    return False
                result.wait_ns = perf_counter_ns() - written
            if not data:
                if not reader.complete_at_eof():
                    raise ConnectionResetError(errno.ECONNRESET, "connection closed before the response ended")
                break
            if reader.take(data):
                break
    except (OSError, ssl.SSLError) as exc:
        conn.close()
        if not reader.buffer and result.connect_ns == 0 and isinstance(exc, ConnectionResetError):
            return False
        result.failure, result.reason = Failure.RECEIVE, describe_error(exc)
    except HTTPParseError as exc:
        conn.close()
        result.failure, result.reason = Failure.EXCEPTION, f"bad HTTP response: {exc}"[:200]
    result.end_ns = perf_counter_ns()
    reader.conclude(result)
    return True


class Reader:
    """One response as it arrives: framed by Content-Length on the fast path, else by llhttp."""

    __slots__ = ("buffer", "head_end", "method", "need", "parser")

    def __init__(self, method: str) -> None:
        self.method = method
        # Every byte of the response, as received: the first chunk as it came (most responses are one chunk),
        # a bytearray from the second on.
        self.buffer: bytes | bytearray = b""
        self.head_end = -1  # where the head ends (the blank line), once seen
        self.need = -1  # the response's total length, once the fast path has framed it
        self.parser: _Response | None = None

    def take(self, data: bytes) -> bool:
        """Add received bytes; True once the response is complete."""
        if not self.buffer:
            self.buffer = data
        elif type(self.buffer) is bytes:
            self.buffer = bytearray(self.buffer) + data
        else:
            self.buffer += data
        if self.parser is not None:
            self.parser.feed(data)
            return self.parser.message_complete
        buffer = self.buffer
        if self.head_end < 0:
            self.head_end = buffer.find(b"\r\n\r\n")
            if self.head_end < 0:
                return False
            self.need = framed_length(buffer, self.method, self.head_end)
            if self.need < 0:
                self.parser = _Response(self.method)
                self.parser.feed(bytes(buffer))
                return self.parser.message_complete
        return len(buffer) >= self.need

    def complete_at_eof(self) -> bool:
        """The server closed: complete only if the body was the kind that runs until the close."""
        if self.parser is None or not self.parser.headers_complete:
            return False
        self.parser.feed(b"")
        return self.parser.message_complete

    def conclude(self, result: Exchange) -> None:
        """Status, body, bytes and keep-alive into ``result``."""
        buffer, parser, head_end = self.buffer, self.parser, self.head_end
        result.bytes_read = len(buffer)
        if head_end >= 0:
            result.head = bytes(buffer[:head_end])
        ok = result.failure is Failure.NONE
        if parser is not None:
            if parser.headers_complete:
                result.status = parser.get_code()
            result.body = parser.body
            result.keepalive = ok and parser.message_complete and parser.should_keep_alive()
        elif self.need >= 0:
            result.status = int(buffer[9:12])
            result.body = buffer[head_end + 4 : self.need]
            # bytes beyond the answer (a server talking out of turn): do not reuse the connection
            result.keepalive = ok and len(buffer) == self.need and keeps_alive(buffer, head_end)


def describe_error(exc: BaseException) -> str:
    """A failed request's reason as ab words it: "timed out", else the OS's message (at most 200 characters)."""
    if isinstance(exc, TimeoutError | gevent.socket.timeout):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)[:200]
