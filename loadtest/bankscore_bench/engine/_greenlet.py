"""The greenlet core: each user sends its requests on a gevent socket of its own, blocking on it.

Every ``send``/``recv`` that would block is a trip through gevent's hub and back, which makes this core the
slower one; it is the one that runs the open loop (a user waits for its scheduled ticket) and TLS.
"""

from __future__ import annotations

from bankscore_bench.engine._core import CoreParts
from bankscore_bench.engine._http import Connection, exchange

__all__ = ["GreenletCore"]


class GreenletCore:
    """A ``Core``: each user loops take a ticket, send its request (``exchange``), record the answer."""

    def __init__(self, parts: CoreParts) -> None:
        self.parts = parts

    def serve(self) -> None:
        parts = self.parts
        next_ticket, record = parts.tickets.next, parts.recorder.record
        target, pool, method, keepalive = parts.target, parts.requests, parts.method, parts.keepalive
        conn = Connection()
        try:
            while True:
                ticket = next_ticket()
                if ticket is None:
                    return
                index, intended_ns = ticket
                payload = index % len(pool)
                record(index, intended_ns, payload, exchange(target, conn, pool[payload], method, keepalive=keepalive))
        finally:
            conn.close()

    def stop(self) -> None:
        """Nothing to do: each user's connection is closed as its loop ends."""
