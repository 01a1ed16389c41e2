"""The ``Core`` protocol: how a run's users drive their connections.

Each Locust user stands for one concurrent request. A core decides how the users' requests are sent: the
epoll core (``_mux.MuxCore``) runs every user's connection from one greenlet, the greenlet core
(``_greenlet.GreenletCore``) gives each user a gevent socket of its own. Both take their tickets from the run's
``Tickets`` and hand every exchange to its ``Recorder``, so they differ in speed, never in what they report.
Both are built from the same ``CoreParts``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from bankscore_bench.engine._http import Target
from bankscore_bench.engine._recorder import Recorder
from bankscore_bench.engine._tickets import Tickets

__all__ = ["Core", "CoreParts"]


@dataclasses.dataclass(frozen=True, slots=True)
class CoreParts:
    """What a core sends with: the run's tickets and recorder, the target, the prepared requests, ab's -m and -k."""

    tickets: Tickets
    recorder: Recorder
    target: Target
    requests: Sequence[bytes]  # a ticket's request is ``requests[index % len(requests)]``
    method: str
    keepalive: bool


class Core(Protocol):
    def serve(self) -> None:
        """One Locust user's whole life: send the run's requests until no ticket is left or the run ends."""

    def stop(self) -> None:
        """The run has ended (its tickets are finished): let go of every connection."""
