"""A fault-injecting HTTP proxy for the reliability tests: real sockets between the client and a real deployment.

Every scoring POST is either forwarded to the upstream server or answered with a fault. Which faults a batch
meets is decided from the seed, the request body and how many times that body was already seen, so a run
injects the same faults into the same batches whatever order the client's threads send them in:

    503            an HTTP 503 with ``{"message": ...}``, as a busy gateway answers
    429            an HTTP 429 with ``Retry-After``
    drop-request   the connection closed after half the request body was read (nothing forwarded)
    drop-response  the request forwarded and scored upstream, then the connection closed before any answer
    truncate       the request forwarded, the status line and half the body sent, then the connection closed

A batch meets at most ``max_faults`` faults and then goes through. With ``permanent`` set, only the batches it
names a fault for fail, on every attempt, and every other batch goes straight through. GET requests (the spec,
health) are forwarded untouched.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

FAULTS = ("503", "429", "drop-request", "drop-response", "truncate")
RETRY_AFTER_SECONDS = 2  # what the 429s ask for; the client must wait this long (its sleep is recorded in tests)

# Given the records of a batch, the fault it always gets (or None: the ordinary seeded faults).
PermanentFault = Callable[[list[dict[str, Any]]], str | None]

_FORWARDED_REQUEST_HEADERS = ("Content-Type", "Authorization", "Accept", "User-Agent")
_FORWARDED_RESPONSE_HEADERS = ("Content-Type", "x-ms-request-id", "x-request-id", "x-ms-run-fn-exec-ms")


class FaultProxy:
    """Listens on 127.0.0.1 (``url``) and forwards to ``upstream`` (``http://127.0.0.1:PORT``)."""

    def __init__(
        self, upstream: str, *, seed: int, max_faults: int = 3, permanent: PermanentFault | None = None
    ) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname in {"127.0.0.1", "localhost"}, "the proxy only forwards to this machine"
        self.upstream_host, self.upstream_port = parts.hostname, parts.port or 80
        self.seed = seed
        self.max_faults = max_faults
        self.permanent = permanent
        self.injected: Counter[str] = Counter()  # fault -> how many times it was injected
        self.forwarded = 0  # scoring requests that reached the upstream server (retries included)
        self._attempts: Counter[str] = Counter()  # body digest -> attempts seen
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def seeded_fault(self, head: bytes, length: int) -> str | None:
        """The fault for this attempt at the request whose body starts with ``head`` (None: forward it).

        Keyed by the first half of the body, so a drop-request can be decided before the rest is read.
        """
        key = f"{length}:{hashlib.sha256(head).hexdigest()}"
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] += 1
        # A generator of its own per request body: the same batch meets the same faults in every run.
        plan = random.Random(f"{self.seed}:{key}")
        faults = [plan.choice(FAULTS) for _ in range(plan.randint(0, self.max_faults))]
        return faults[attempt] if attempt < len(faults) else None

    def count(self, fault: str | None) -> None:
        with self._lock:
            if fault is None:
                self.forwarded += 1
            else:
                self.injected[fault] += 1
                if fault in {"drop-response", "truncate"}:
                    self.forwarded += 1  # these reached the server, which scored them

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Answer:
        """Send the request upstream on a connection of its own (the server closes it anyway) and read it all."""
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            kept = {name: value for name in _FORWARDED_RESPONSE_HEADERS if (value := response.getheader(name))}
            return Answer(response.status, kept, response.read())
        finally:
            connection.close()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _records(body: bytes) -> list[dict[str, Any]]:
    document = json.loads(body)
    rows = document["Inputs"]["data"] if "Inputs" in document else document["data"]
    return list(rows)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive with the client, as a real gateway would

        def do_GET(self) -> None:
            self._relay(proxy.forward("GET", self.path, self._headers(), None))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            head = self.rfile.read(length // 2)
            fault = proxy.seeded_fault(head, length)
            if fault == "drop-request" and proxy.permanent is None:
                proxy.count(fault)
                self.close_connection = True  # half the body unread: the client's socket is reset
                return
            body = head + self.rfile.read(length - len(head))
            if proxy.permanent is not None:
                fault = proxy.permanent(_records(body))
            proxy.count(fault)
            if fault is None:
                self._relay(proxy.forward("POST", self.path, self._headers(), body))
            elif fault == "503":
                self._reply(503, {"message": "Service Unavailable (injected)"})
            elif fault == "429":
                self._reply(429, {"message": "Too Many Requests (injected)"}, {"Retry-After": str(RETRY_AFTER_SECONDS)})
            elif fault == "drop-request":
                self.close_connection = True
            elif fault == "drop-response":
                proxy.forward("POST", self.path, self._headers(), body)
                self.close_connection = True  # scored upstream, and the answer is lost
            elif fault == "truncate":
                answer = proxy.forward("POST", self.path, self._headers(), body)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body[: len(answer.body) // 2])
                self.close_connection = True  # scored upstream, and half the answer is lost
            else:  # pragma: no cover - a typo in a test's permanent fault
                raise AssertionError(f"unknown fault {fault!r}")

        def _headers(self) -> dict[str, str]:
            return {name: value for name in _FORWARDED_REQUEST_HEADERS if (value := self.headers.get(name))}

        def _relay(self, answer: Answer) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # faults are counted in the proxy; per-request lines would only drown the test output

    return Handler
