"""The ``Core`` protocol: how a run's users drive their connections.

Each Locust user stands for one concurrent request. A core decides how the users' requests are sent: the
epoll core (``_mux.MuxCore``) runs every user's connection from one greenlet, the greenlet core
(``_greenlet.GreenletCore``) gives each user a gevent socket of its own. Both take their tickets from the run's
``Tickets`` and hand every exchange to its ``Recorder``, so they differ in speed, never in what they report.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Core"]


class Core(Protocol):
    def serve(self) -> None:
        """One Locust user's whole life: send the run's requests until no ticket is left or the run ends."""

    def stop(self) -> None:
        """The run has ended (its tickets are finished): let go of every connection."""
