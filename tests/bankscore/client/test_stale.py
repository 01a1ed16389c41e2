"""A request that meets a connection the server just closed is sent again at once, silently, once."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from bankscore._stale import met_closed_connection, resend_if_closed, resend_if_closed_async


@dataclass
class ClosingServer:
    """HTTP/1.1 on 127.0.0.1 that answers ``answered_per_connection`` requests on a connection, then reads the
    next one and closes without a byte: a keep-alive connection retired as the client reuses it."""

    answered_per_connection: int
    requests: list[int] = field(default_factory=list)  # the connection number of every request read
    port: int = 0

    def serve(self, listener: socket.socket) -> None:
        number = 0
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            number += 1
            threading.Thread(target=self._connection, args=(conn, number), daemon=True).start()

    def _connection(self, conn: socket.socket, number: int) -> None:
        with conn:
            reader = conn.makefile("rb")
            answered = 0
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")),
                    0,
                )
                reader.read(length)
                self.requests.append(number)
                if answered == self.answered_per_connection:
                    return  # closes without answering
                answered += 1
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")


def _start(answered_per_connection: int) -> Iterator[ClosingServer]:
    server = ClosingServer(answered_per_connection)
    listener = socket.create_server(("127.0.0.1", 0))
    server.port = listener.getsockname()[1]
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()
    yield server
    listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close alone does not
    listener.close()
    thread.join(timeout=5)


@pytest.fixture
def retiring() -> Iterator[ClosingServer]:
    """Answers one request per connection, then retires the connection when it is reused."""
    yield from _start(1)


@pytest.fixture
def never_answers() -> Iterator[ClosingServer]:
    yield from _start(0)


def test_the_reused_closed_connection_is_resent_once_without_a_warning(
    retiring: ClosingServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bankscore")
    url = f"http://127.0.0.1:{retiring.port}/score"
    with httpx.Client() as http:
        first = resend_if_closed(lambda: http.post(url, content=b"{}"))
        second = resend_if_closed(lambda: http.post(url, content=b"{}"))
    assert (first.text, second.text) == ("ok", "ok")
    assert retiring.requests == [1, 1, 2]  # the second request met connection 1 closing, then went out on 2
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "closed an idle connection" in caplog.records[0].getMessage()


def test_a_server_that_never_answers_is_not_resent_twice(never_answers: ClosingServer) -> None:
    url = f"http://127.0.0.1:{never_answers.port}/score"
    with httpx.Client() as http, pytest.raises(httpx.RemoteProtocolError) as info:
        resend_if_closed(lambda: http.post(url, content=b"{}"))
    assert met_closed_connection(info.value)
    assert len(never_answers.requests) == 2  # the retry policy, not this, decides what happens next


def test_the_async_client_resends_the_same_way(retiring: ClosingServer) -> None:
    url = f"http://127.0.0.1:{retiring.port}/score"

    async def two_requests() -> list[str]:
        async with httpx.AsyncClient() as http:
            answers = []
            for _ in range(2):
                response = await resend_if_closed_async(lambda: http.post(url, content=b"{}"))
                answers.append(response.text)
            return answers

    assert asyncio.run(two_requests()) == ["ok", "ok"]
    assert retiring.requests == [1, 1, 2]


def test_other_protocol_errors_are_not_taken_for_a_closed_connection() -> None:
    assert not met_closed_connection(httpx.RemoteProtocolError("illegal header line"))
    assert not met_closed_connection(httpx.ConnectError("refused"))
