"""Locust's ``request`` event for every recorded request, so Locust's own statistics (and any listener) see the run.

Failures are announced at once (their reason is not in the sample log); successes in batches, read back from
the log. The event and Locust's statistics behind it cost more Python per request than the request itself:
firing them inline halved the requests/s one process could send. Each event still carries its request's own
start time and response time; only Locust's per-second request counts (which it stamps with the time of the
event) shift by up to the batch interval.
"""

from __future__ import annotations

from typing import Any, Final

import gevent  # type: ignore[import-untyped]  # gevent ships no type hints

from bankscore_bench._samples import SampleLog

__all__ = ["EventTally", "LocustEvents", "locust_counts"]

EVENT_SLICE: Final = 100  # events fired between two turns of gevent's loop (about 1 ms of Locust's work)
EVENT_BATCH_S: Final = 1.0  # how often the announcer fires the successes recorded since its last turn


class _NonSuccessError(Exception):
    """What Locust's statistics see for a non-2xx response or a failed request (FastHttpUser does the same)."""


class LocustEvents:
    """Fires Locust's ``request`` events for one run's sample log, as FastHttpUser fires them."""

    def __init__(self, events: Any, log: SampleLog, finished: Any, *, method: str, name: str, url: str) -> None:
        self.events = events  # Locust's env.events
        self.log = log
        self.finished = finished  # the run's stop signal (a gevent Event)
        self.method, self.name, self.url = method, name, url
        self.fired = 0  # rows of the log whose event has been fired (or skipped as a failure's, fired at once)
        self.announcer: Any = None  # the greenlet firing successes, from the run's first user on

    def start_announcer(self) -> None:
        """Fire successes in the background from now on (once per run; later calls do nothing)."""
        if self.announcer is None:
            self.announcer = gevent.spawn(self._announce)

    def fire_failure(self, total_us: int, body_len: int, start_s: float, reason: str) -> None:
        """A failed or non-2xx request's event, at once."""
        self._fire(total_us, body_len, start_s, _NonSuccessError(reason))

    def fire_pending(self, at_most: int | None = None) -> bool:
        """Fire the event of recorded successes not yet announced (``at_most`` of them); True while some are left."""
        log = self.log
        begin, available = self.fired, len(log.total_us)
        end = available if at_most is None else min(available, begin + at_most)
        self.fired = end
        statuses, failures, totals, bodies, starts = log.status, log.failure, log.total_us, log.body_bytes, log.start_us
        for i in range(begin, end):
            status = statuses[i]
            if failures[i] or not 200 <= status < 300:
                continue  # fired when it was recorded
            self._fire(totals[i], bodies[i], starts[i] / 1e6, None)
        return end < available

    def _announce(self) -> None:
        """Successes in slices until the run ends (whoever reads Locust's statistics fires the rest).

        A slice at a time with the loop in between: a whole second's events at once (about 8 us each) froze
        the generator for 150 ms a second at 20,000 requests/s, and the requests in flight paid for it.
        """
        while not self.finished.wait(timeout=EVENT_BATCH_S):
            while self.fire_pending(at_most=EVENT_SLICE) and not self.finished.is_set():
                gevent.sleep(0)

    def _fire(self, total_us: int, body_len: int, start_s: float, error: Exception | None) -> None:
        """One Locust ``request`` event, as FastHttpUser fires it (epoch start time, milliseconds)."""
        self.events.request.fire(
            request_type=self.method,
            name=self.name,
            response_time=total_us / 1000,
            response_length=body_len,
            response=None,
            context={},
            exception=error,
            start_time=start_s,
            url=self.url,
        )


class EventTally:
    """Locust's ``request`` events on a distributed worker, counted as they fire.

    A worker's own ``env.stats`` cannot be used for this: Locust resets a worker's totals each time it
    reports them to the master (every 3 s), so a longer run would come back short.
    """

    def __init__(self, env: Any) -> None:
        self.requests = self.failures = 0
        env.events.request.add_listener(self._count)

    def _count(self, exception: Exception | None = None, **_: Any) -> None:
        self.requests += 1
        if exception is not None:
            self.failures += 1

    def counts(self, events: LocustEvents) -> dict[str, str]:
        """The ended share's counts (every event fired first); the tally starts again for the next share."""
        events.fire_pending()
        counts = {"locust_requests": str(self.requests), "locust_failures": str(self.failures)}
        self.requests = self.failures = 0
        return counts


def locust_counts(events: LocustEvents, env: Any) -> dict[str, str]:
    """Locust's own view of the run's requests (its rounded statistics), for cross-checks and Locust users:
    every request's event fired first."""
    events.fire_pending()
    return {
        "locust_requests": str(env.stats.total.num_requests),
        "locust_failures": str(env.stats.total.num_failures),
    }
