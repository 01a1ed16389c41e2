"""The epoll core: every user's connection driven by one loop over ``epoll``, the way ab drives its own.

The greenlet core (``_greenlet.GreenletCore``) gives each Locust user a gevent socket and lets the user block on it;
every ``send``/``recv`` that would block is a trip through gevent's hub and back (measured: a raw gevent
loop that parses and records nothing tops out at half of ``ab -k`` on loopback). Here each Locust user still
stands for one concurrent request and owns one connection (a ``_Slot``), but one greenlet, the driver, runs
all of them: non-blocking sockets from the unpatched ``_socket`` module and one ``epoll`` set, the driver
waiting in epoll itself and handing gevent's hub a turn every 10 milliseconds (so Locust's own greenlets,
the time limit and Ctrl-C run as usual, at most that late). Parsing, timing and recording are the
greenlet core's own (``_http.Reader``, ``Exchange``, ``Recorder.record``), so both cores report the same facts
for the same exchange.

Used for the closed loop (ab's model) over plain HTTP; open-loop schedules and TLS stay on the greenlet core.
Timeouts (``-s``) apply to each connect, write and wait for data, as ab's do, checked every
``_SWEEP_NS`` (so a timeout fires up to that much late).
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import os
import select
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any, Final

import gevent  # type: ignore[import-untyped]  # gevent ships no type hints
import gevent.monkey  # type: ignore[import-untyped]
from geventhttpclient._parser import HTTPParseError

from bankscore_bench._samples import Failure
from bankscore_bench.engine._core import CoreParts
from bankscore_bench.engine._http import Exchange, Reader, Target, describe_error
from bankscore_bench.engine._tickets import WAIT

__all__ = ["MuxCore", "supports"]

_RECV_SIZE: Final = 65536
_SWEEP_NS: Final = 50_000_000  # how often deadlines are checked
# The driver waits in epoll itself, not in gevent's hub: the hub's libev watching an epoll descriptor wakes
# up spuriously (measured: 53 empty wake-ups per request against a 1 ms server, one core spent on nothing).
# So the hub gets a turn every _YIELD_NS instead, and no epoll wait lasts longer than _POLL_S: the time limit,
# Ctrl-C and Locust's own greenlets run at most that late (every 2 ms cost 3% of a core while idle; 10 ms, 1%).
_POLL_S: Final = 0.01
_YIELD_NS: Final = 10_000_000
_RETRYABLE: Final = frozenset({errno.EPIPE, errno.ECONNRESET})

# gevent's monkey-patching removes epoll from ``select``; the original is what we want. Linux only: elsewhere
# every plan runs on the greenlet core.
try:
    _epoll: Any = gevent.monkey.get_original("select", "epoll")
except (AttributeError, ImportError):
    _epoll = None
_SOCK_STREAM_NONBLOCK: Final = _socket.SOCK_STREAM | getattr(_socket, "SOCK_NONBLOCK", 0)
_IN: Final = getattr(select, "EPOLLIN", 1)
_OUT: Final = getattr(select, "EPOLLOUT", 4)

# A slot's phases
_IDLE, _CONNECTING, _SENDING, _READING = 0, 1, 2, 3


def supports(target: Target, *, open_loop: bool) -> bool:
    """Whether this core can run the plan: the closed loop over plain HTTP, on Linux."""
    return _epoll is not None and target.ssl_context is None and not open_loop


class _Slot:
    """One user's connection and the request on it."""

    __slots__ = (
        "deadline", "index", "mask", "payload", "phase", "reader", "request", "result", "retry", "reused", "sent",
        "sock", "written",
    )  # fmt: skip

    def __init__(self) -> None:
        self.sock: Any = None  # a non-blocking _socket.socket, or None between connections
        self.mask = 0  # the events its descriptor is registered for
        self.phase = _IDLE
        self.index = -1  # the ticket (request number) being sent
        self.payload = 0  # which prepared request
        self.request = b""
        self.sent = 0  # bytes of ``request`` written
        self.result: Exchange | None = None
        self.reader: Reader | None = None
        self.reused = False  # the request went out on a kept-alive connection
        self.retry = False  # send the same request again on a new connection
        self.written = 0  # perf_counter ns when the request was fully written
        self.deadline = 0  # perf_counter ns by which the current connect, write or read must progress


class MuxCore:
    """A ``Core``: drives every user's connection of one run from a single greenlet, the driver."""

    def __init__(self, parts: CoreParts, *, on_error: Callable[[Exception], None]) -> None:
        tickets = parts.tickets
        self.tickets = tickets
        self.finished = tickets.finished
        self.warmed_up = tickets.warmed_up
        # Bound once: taken and called once per request
        self.take = tickets.take
        self.record = parts.recorder.record
        self.on_error = on_error  # a bug in the driver: the run ends and raises it
        self.target = parts.target
        self.pool = parts.requests
        self.method = parts.method
        self.keepalive = parts.keepalive
        self.timeout_ns = int(parts.target.timeout * 1e9)
        self.epoll: Any = None
        self.by_fd: dict[int, _Slot] = {}
        self.slots: list[_Slot] = []
        # Slots whose next request is due. A queue, not a call from the previous request's end: a run of
        # requests that fail at once (a refused connect) must not nest one call per request.
        self.ready: list[_Slot] = []
        self.parked: list[_Slot] = []  # waiting for the warmup to end
        self.driver: Any = None

    # --- users ---------------------------------------------------------------------------------------------

    def serve(self) -> None:
        """A Locust user's whole life in this core: add its connection, then wait for the run to end."""
        if self.finished.is_set():
            return
        slot = _Slot()
        self.slots.append(slot)
        self.ready.append(slot)
        if self.driver is None:
            self.epoll = _epoll()
            self.driver = gevent.spawn(self._drive)
        self.finished.wait()

    def stop(self) -> None:
        """After the run has finished: wait for the driver to leave its loop and close every socket."""
        if self.driver is not None:
            self.driver.join(timeout=_POLL_S * 10)
            if not self.driver.dead:  # stuck in a callback (a slow progress printer): closed by force
                self.driver.kill(block=True, timeout=1)

    # --- the loop ------------------------------------------------------------------------------------------

    def _drive(self) -> None:
        finished = self.finished
        epoll = self.epoll
        by_fd, ready = self.by_fd, self.ready
        next_sweep = next_yield = perf_counter_ns()
        try:
            while not finished.is_set():
                while ready:
                    self._start_next(ready.pop())
                    if finished.is_set():
                        return
                    if perf_counter_ns() >= next_yield:  # requests failing at once must not hold the hub
                        next_yield = perf_counter_ns() + _YIELD_NS
                        gevent.sleep(0)
                for fd, _mask in epoll.poll(_POLL_S):
                    slot = by_fd.get(fd)
                    if slot is not None:
                        self._on_event(slot)
                now = perf_counter_ns()
                if now >= next_yield:
                    # Let the hub run: Locust's greenlets, the time limit, Ctrl-C, the users' joins.
                    next_yield = now + _YIELD_NS
                    gevent.sleep(0)
                if now >= next_sweep:
                    next_sweep = now + _SWEEP_NS
                    self._expire(now)
        except gevent.GreenletExit:
            pass
        except Exception as exc:  # a bug, not a failed request: end the run, which raises it
            self.on_error(exc)
        finally:
            finished.set()  # however the driver ends, the users waiting in serve() end with it
            for slot in self.slots:
                self._close(slot)
            epoll.close()

    def _on_event(self, slot: _Slot) -> None:
        phase = slot.phase
        if phase == _READING:
            self._read(slot)
        elif phase == _SENDING:
            self._send(slot)
        elif phase == _CONNECTING:
            self._connected(slot)
        else:  # an idle kept-alive connection the server closed (or spoke on): level-triggered, so drop it
            self._close(slot)

    def _expire(self, now: int) -> None:
        for slot in self.slots:
            phase = slot.phase
            if phase != _IDLE and now > slot.deadline:
                self._close(slot)
                if phase == _CONNECTING:
                    self._fail(slot, Failure.CONNECT, "timed out")
                elif phase == _SENDING:
                    self._fail(slot, Failure.EXCEPTION, "timed out", write_error=True)
                else:
                    self._fail(slot, Failure.RECEIVE, "timed out")

    # --- one request ---------------------------------------------------------------------------------------

    def _start_next(self, slot: _Slot) -> None:
        if slot.retry:
            slot.retry = False
            self._connect(slot)
            return
        index = self.take()
        if index is None:
            self._close(slot)
            return
        if index == WAIT:  # waiting for the warmup to end, which may take long: no idle connection meanwhile
            self._close(slot)
            self.parked.append(slot)
            return
        slot.index = index
        slot.payload = index % len(self.pool)
        slot.request = self.pool[slot.payload]
        slot.result = Exchange(perf_counter_ns())
        slot.reader = Reader(self.method)
        if slot.sock is None:
            slot.reused = False
            self._connect(slot)
        else:
            slot.reused = True
            self._begin_send(slot)

    def _connect(self, slot: _Slot) -> None:
        target = self.target
        sock = None
        try:
            # Non-blocking from the start (one system call less than setblocking); EMFILE when descriptors run out
            sock = _socket.socket(target.family, _SOCK_STREAM_NONBLOCK)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            err = sock.connect_ex(target.address)
            if err and err != errno.EINPROGRESS:
                raise OSError(err, os.strerror(err))
            self.epoll.register(sock.fileno(), _OUT)
        except OSError as exc:
            if sock is not None:
                sock.close()
            self._fail(slot, Failure.CONNECT, describe_error(exc))
            return
        slot.sock = sock
        self.by_fd[sock.fileno()] = slot
        slot.mask = _OUT
        if err:
            slot.phase = _CONNECTING
            slot.deadline = perf_counter_ns() + self.timeout_ns
        else:
            self._mark_connected(slot)

    def _connected(self, slot: _Slot) -> None:
        err = slot.sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
        if err:
            self._close(slot)
            self._fail(slot, Failure.CONNECT, describe_error(OSError(err, os.strerror(err))))
            return
        self._mark_connected(slot)

    def _mark_connected(self, slot: _Slot) -> None:
        result = slot.result
        assert result is not None
        result.connect_ns = perf_counter_ns() - result.start_ns
        self._begin_send(slot)

    def _begin_send(self, slot: _Slot) -> None:
        slot.sent = 0
        slot.phase = _SENDING
        slot.deadline = perf_counter_ns() + self.timeout_ns
        self._send(slot)

    def _send(self, slot: _Slot) -> None:
        request = slot.request
        try:
            slot.sent += slot.sock.send(memoryview(request)[slot.sent :] if slot.sent else request)
        except BlockingIOError:
            pass
        except OSError as exc:
            self._close(slot)
            if slot.reused and exc.errno in _RETRYABLE:
                self._retry(slot)
            else:
                self._fail(slot, Failure.EXCEPTION, describe_error(exc), write_error=True)
            return
        if slot.sent < len(request):  # the socket buffer is full: the rest when it is writable again
            self._watch(slot, _OUT)
            return
        slot.written = perf_counter_ns()
        slot.deadline = slot.written + self.timeout_ns
        slot.phase = _READING
        self._watch(slot, _IN)

    def _watch(self, slot: _Slot, mask: int) -> None:
        if slot.mask != mask:
            slot.mask = mask
            self.epoll.modify(slot.sock.fileno(), mask)

    def _read(self, slot: _Slot) -> None:
        sock, result, reader = slot.sock, slot.result, slot.reader
        assert result is not None and reader is not None
        try:
            data = sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._close(slot)
            if slot.reused and not reader.buffer and exc.errno in _RETRYABLE:
                self._retry(slot)
            else:
                self._fail(slot, Failure.RECEIVE, describe_error(exc))
            return
        now = perf_counter_ns()
        if not reader.buffer:
            if not data and slot.reused:  # the server closed the kept-alive connection while it was idle
                self._close(slot)
                self._retry(slot)
                return
            result.wait_ns = now - slot.written
        try:
            if not data:
                self._close(slot)
                if reader.complete_at_eof():
                    self._finish(slot, now)
                else:
                    self._fail(slot, Failure.RECEIVE, "connection closed before the response ended")
                return
            complete = reader.take(data)
        except HTTPParseError as exc:
            self._close(slot)
            self._fail(slot, Failure.EXCEPTION, f"bad HTTP response: {exc}"[:200])
            return
        if complete:
            self._finish(slot, now)
        else:
            slot.deadline = now + self.timeout_ns

    def _retry(self, slot: _Slot) -> None:
        """Once, as ab does: the request again on a new connection (the start time stays the first attempt's)."""
        result = slot.result
        assert result is not None
        result.bytes_read = 0
        result.failure, result.reason, result.write_error = Failure.NONE, "", False
        slot.reader = Reader(self.method)
        slot.reused = False
        # From the loop, not here: a new socket may reuse the descriptor number of one closed in this batch of
        # events, and a stale event for that number must not reach it.
        slot.retry = True
        self.ready.append(slot)

    def _finish(self, slot: _Slot, now: int) -> None:
        result, reader = slot.result, slot.reader
        assert result is not None and reader is not None
        result.end_ns = now
        reader.conclude(result)
        if not (self.keepalive and result.keepalive):
            self._close(slot)
        self._record(slot, result)

    def _fail(self, slot: _Slot, failure: Failure, reason: str, *, write_error: bool = False) -> None:
        """Record a request that failed (its socket already closed); the slot goes on with the next."""
        result, reader = slot.result, slot.reader
        assert result is not None and reader is not None
        result.end_ns = perf_counter_ns()
        result.failure, result.reason, result.write_error = failure, reason, write_error
        reader.conclude(result)
        self._record(slot, result)

    def _record(self, slot: _Slot, result: Exchange) -> None:
        slot.phase = _IDLE
        self.record(slot.index, 0, slot.payload, result)
        if self.parked and self.warmed_up.is_set():
            self.ready += self.parked
            self.parked = []
        self.ready.append(slot)

    def _close(self, slot: _Slot) -> None:
        sock = slot.sock
        slot.phase = _IDLE
        if sock is None:
            return
        slot.sock = None
        fd = sock.fileno()
        self.by_fd.pop(fd, None)
        with contextlib.suppress(OSError, ValueError):  # the epoll set is already closed (the run has ended)
            self.epoll.unregister(fd)
        sock.close()
