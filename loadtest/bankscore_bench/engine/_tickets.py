"""Tickets: the one owner of ab's ``-n``, the warmup and the open-loop schedule.

Every request takes a ticket before it is sent: a request number (warmup first, then the measured ones) and,
in the open loop, the time it was scheduled for. The counter is taken before sending, so no more than
``warmup + requests`` are ever sent, however many users race for the last ones; both cores take their tickets
here.
"""

from __future__ import annotations

import time
from typing import Any, Final

import gevent  # type: ignore[import-untyped]  # gevent ships no type hints
import gevent.event  # type: ignore[import-untyped]
import gevent.queue  # type: ignore[import-untyped]

from bankscore_bench.engine._loadplan import PRECISE_RATE, LoadPlan, arrival_offsets

__all__ = ["WAIT", "Tickets"]

WAIT: Final = -1  # Tickets.take: the warmup is still running, ask again when it has ended
_TIMER_SLACK_NS: Final = 1_000_000  # how early the precise open loop wakes before a send (gevent's timers' rounding)


class Tickets:
    """Hands out request numbers; says when the warmup is over (``warmed_up``) and when the run is (``finished``).

    ``finished`` is the run's stop signal: set when every measured request is recorded, when the run is stopped,
    or when a bug ends it. No ticket is handed out once it is set.
    """

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.warmup = plan.warmup
        self.limit = plan.warmup + plan.requests
        self.issued = 0  # tickets handed out, warmup included
        self.warmup_left = plan.warmup  # warmup requests not yet completed
        self.warmed_up: Any = gevent.event.Event()
        if plan.warmup == 0:
            self.warmed_up.set()
        self.finished: Any = gevent.event.Event()
        # Open loop: the schedule puts (number, intended perf_counter ns) here at each one's time.
        self.queue: Any = gevent.queue.Queue() if plan.rate else None
        self.scheduled = 0  # open loop: tickets put on the queue
        self.started = 0  # open loop: measured tickets taken by a user

    @property
    def open_loop(self) -> bool:
        return self.queue is not None

    @property
    def dropped(self) -> int:
        """Open loop: scheduled requests no user took before the run ended."""
        return max(0, self.scheduled - self.started) if self.queue is not None else 0

    def take(self) -> int | None:
        """Closed loop, without waiting: the next request number, ``WAIT`` while the warmup is still running,
        or None when nothing is left to send."""
        if self.finished.is_set():
            return None
        issued = self.issued
        if issued < self.warmup:  # warmup requests go back to back in both load models
            self.issued = issued + 1
            return issued
        if not self.warmed_up.is_set():
            return WAIT
        if issued >= self.limit:
            return None
        self.issued = issued + 1
        return issued

    def next(self) -> tuple[int, int] | None:
        """(number, intended perf_counter ns or 0), waiting for the warmup's end or the schedule as needed;
        None when this user has nothing more to send."""
        if self.finished.is_set():
            return None
        if self.issued < self.warmup:
            self.issued += 1
            return self.issued - 1, 0
        self.warmed_up.wait()
        if self.queue is None:
            number = self.take()
            return None if number is None else (number, 0)
        ticket: tuple[int, int] = self.queue.get()
        if self.finished.is_set():
            return None
        self.started += 1
        return ticket

    def warmup_request_done(self) -> None:
        """A warmup request completed; the measured phase starts when the last one has."""
        self.warmup_left -= 1
        if self.warmup_left == 0:
            self.warmed_up.set()

    def finish(self) -> None:
        self.finished.set()

    def schedule(self) -> None:
        """Open loop (a greenlet of its own): put each measured ticket on the queue at its scheduled time."""
        plan = self.plan
        assert self.queue is not None and plan.rate is not None
        self.warmed_up.wait()
        offsets = arrival_offsets(plan.rate, plan.arrivals, plan.requests, plan.seed)
        # gevent's timers wake up to a millisecond late (libev rounds its epoll wait up to whole ms), which
        # would add about 0.7 ms to every corrected latency. Up to PRECISE_RATE, wake a millisecond early and
        # wait out the rest whenever the loop is idle (that spin costs up to 10% of a core at 200/s); faster
        # schedules keep the timers' millisecond, as wrk2's does.
        precise = plan.rate <= PRECISE_RATE
        t0 = time.perf_counter_ns()
        for i, offset in enumerate(offsets):
            due = t0 + int(offset * 1e9)
            delay = due - time.perf_counter_ns()
            if precise:
                if delay > _TIMER_SLACK_NS:
                    gevent.sleep((delay - _TIMER_SLACK_NS) / 1e9)
                while time.perf_counter_ns() < due:
                    gevent.idle()
            elif delay > 0:
                gevent.sleep(delay / 1e9)
            self.queue.put((plan.warmup + i, due))
            self.scheduled += 1
