"""One run of a ``LoadPlan``: its tickets, its recorder, its Locust events and the core that sends its requests.

A ``Run`` only wires these together; each part owns its own state. Locust is not imported here: the same
``Run`` serves a local run and a distributed worker's share.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import gevent  # type: ignore[import-untyped]  # gevent ships no type hints

from bankscore_bench._samples import RunInfo, SampleLog
from bankscore_bench.engine._core import Core, CoreParts
from bankscore_bench.engine._events import LocustEvents
from bankscore_bench.engine._greenlet import GreenletCore
from bankscore_bench.engine._http import Exchange, Target, build_requests
from bankscore_bench.engine._loadplan import LoadPlan
from bankscore_bench.engine._mux import MuxCore
from bankscore_bench.engine._mux import supports as mux_supports
from bankscore_bench.engine._recorder import Recorder
from bankscore_bench.engine._tickets import Tickets
from bankscore_bench.engine._verbose import credentials, print_response

__all__ = ["Run"]


class Run:
    """A plan's run in this process, fed to Locust's users (``work``) and told when to stop (``end``)."""

    def __init__(self, plan: LoadPlan, locust_events: Any, on_progress: Callable[[int], None] | None = None) -> None:
        self.plan = plan
        self.target = target = Target(plan.url, plan.timeout_s)  # the host resolved once, before the run
        pool = plan.payloads
        # The exact bytes of every request, built once before the run
        self.requests = build_requests(
            target,
            plan.method,
            plan.headers,
            pool.payloads if pool else (),
            pool.content_type if pool else None,
            keepalive=plan.keepalive,
        )
        self.log = SampleLog()
        self.tickets = Tickets(plan)
        self.events = LocustEvents(
            locust_events, self.log, self.tickets.finished, method=plan.method, name=target.path, url=plan.url
        )
        self.recorder = Recorder(
            plan,
            self.tickets,
            self.log,
            self.requests,
            on_failure=self.events.fire_failure,
            on_response=self._response_printer(plan),
            on_progress=on_progress,
        )
        self.core = self._choose_core(plan, target, self.requests)
        self.error: Exception | None = None  # a bug that ended the run, raised by whoever waits for it

    def _response_printer(self, plan: LoadPlan) -> Callable[[Exchange], None] | None:
        """ab's ``-v 2`` response dumps, with the request's credentials redacted from what the server echoes."""
        if plan.verbosity < 2:
            return None
        secrets = credentials(self.requests[0]) if self.requests else ()
        return functools.partial(print_response, verbosity=plan.verbosity, secrets=secrets)

    def _choose_core(self, plan: LoadPlan, target: Target, requests: Sequence[bytes]) -> Core:
        """The epoll core for the closed loop over plain HTTP unless the plan asks otherwise; else greenlets."""
        parts = CoreParts(self.tickets, self.recorder, target, requests, plan.method, plan.keepalive)
        if plan.core != "greenlet" and mux_supports(target, open_loop=plan.rate is not None):
            return MuxCore(parts, on_error=self.fail)
        return GreenletCore(parts)

    def work(self) -> None:
        """One Locust user's part of the run, until the tickets run out or the run stops."""
        self.events.start_announcer()
        self.core.serve()

    def start_schedule(self) -> Any:
        """Open loop: the greenlet putting tickets on the schedule (kill it when the run ends); else None."""
        return gevent.spawn(self.tickets.schedule) if self.tickets.open_loop else None

    def fail(self, error: Exception) -> None:
        """A bug, not a failed request: the run ends, and ``error`` is raised when it is collected."""
        self.error = error
        self.tickets.finish()

    def end(self) -> None:
        """Stop the run: nothing completing from now on is recorded; the core lets go of its connections."""
        self.tickets.finish()
        self.core.stop()

    def info(self, *, interrupted: bool) -> RunInfo:
        """The run's facts for its reports (its wall clock spans the first start to the last completion)."""
        plan, target, log, recorder = self.plan, self.target, self.log, self.recorder
        if len(log):
            started = min(log.start_us)
            ended = max(start + total for start, total in zip(log.start_us, log.total_us, strict=True))
        else:
            started = ended = time.time_ns() // 1000
        return RunInfo(
            url=plan.url,
            host=target.host,
            port=target.port,
            path=target.path,
            method=plan.method,
            concurrency=plan.users,
            started_us=started,
            ended_us=ended,
            server_software=recorder.server_software or "",
            document_length=None if plan.accept_variable_length else recorder.document_length,
            keepalive=plan.keepalive,
            posted=plan.payloads is not None,
            write_errors=recorder.write_errors,
            rate=plan.rate,
            arrivals=plan.arrivals if plan.rate else "closed",
            late=recorder.late,
            dropped=self.tickets.dropped,
            interrupted=interrupted,
        )
