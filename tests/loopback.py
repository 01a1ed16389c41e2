"""Loopback HTTP servers, free ports and waiting for what a server does, written once for the tests.

A stand-in endpoint is a function from a ``Request`` to an answer, ``(status, body)`` or ``(status, headers,
body)``; ``serve`` runs it on a threaded HTTP server on 127.0.0.1 for the duration of a ``with`` block::

    with serve(lambda request: (200, b'{"Results": ["no"]}')) as url:  # "http://127.0.0.1:PORT"
        ...

Tests are imported with ``--import-mode=importlib`` (the tests folder is not on ``sys.path``): ``tests/conftest.py``
loads this file as ``bankscore_tests_loopback``, so test modules ``from bankscore_tests_loopback import serve``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["NOT_FOUND", "Answer", "Handle", "Request", "free_port", "serve", "servers", "wait_for"]

NOT_FOUND = (404, b'{"message": "not found"}')  # azmlinfsrv's answer to a route it does not have


@dataclass(frozen=True)
class Request:
    """One request as the server read it: ``target`` is the path with its query, as sent."""

    method: str
    target: str
    headers: Message  # case-insensitive get(); items() keep the names as sent
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, bytes] | tuple[int, Mapping[str, str], bytes]
Handle = Callable[[Request], Answer]


def _handler_class(handle: Handle, *, keep_alive: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        if keep_alive:
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per answer: no delayed-ACK wait between headers and body
            disable_nagle_algorithm = True

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = handle(Request(self.command, self.path, self.headers, body))
            status, headers, data = (answer[0], {}, answer[1]) if len(answer) == 2 else answer
            self.send_response(status)
            # A stand-in may answer with another Content-Type; Content-Length is always the body's own.
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer  # noqa: N815 - BaseHTTPRequestHandler's method names

        def log_message(self, format: str, *args: object) -> None:
            pass  # a test's output shows its own failures, not one line per request

    return Handler


@contextlib.contextmanager
def serve(handle: Handle, *, keep_alive: bool = False) -> Iterator[str]:
    """``handle`` answering on 127.0.0.1 (a thread per request) until the block ends; yields the base URL.

    ``keep_alive``: HTTP/1.1 with persistent connections; otherwise HTTP/1.0, a connection per request, the way
    azmlinfsrv's gunicorn answers (``Connection: close``)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(handle, keep_alive=keep_alive))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def servers() -> Iterator[Callable[[Handle], str]]:
    """For fixtures whose test starts several servers: ``start(handle)`` serves it and gives its base URL; all
    of them stop when the block ends."""
    with contextlib.ExitStack() as stack:
        yield lambda handle: stack.enter_context(serve(handle))


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick): for a server a test starts in another process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """``condition()``'s first truthy value, asked ten times a second; the test fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)
    return result
