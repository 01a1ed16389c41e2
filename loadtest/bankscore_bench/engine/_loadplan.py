"""What to run (``LoadPlan``) and when to send (``arrival_offsets``).

Load models:

- closed loop (``rate=None``, ab's): ``concurrency`` users each send back to back. Every request first takes a
  ticket from a shared counter, so no more than ``requests`` are ever sent, however the users race.
- open loop (``rate`` requests/s in total, wrk2's model): one global schedule (``constant`` or seeded
  ``poisson`` arrivals) hands tickets to whichever user is free; latency is also kept from the scheduled time
  (``intended_us``), so a stalled server shows up in ``RequestSample.corrected_total_us`` instead of silently
  slowing the load (coordinated omission). A request that starts more than ``late_after_us`` after its
  scheduled time counts as late; a scheduled request still waiting for a free user when the run ends counts
  as dropped. ``concurrency`` bounds the requests in flight (default ``users_for_rate``).
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import urlsplit

from bankscore_bench._aboptions import ARRIVALS  # the choices --arrivals offers, defined with the option
from bankscore_bench._payloads import PayloadPool

__all__ = [
    "ARRIVALS",
    "CORES",
    "LATE_AFTER_US",
    "METHODS",
    "PRECISE_RATE",
    "LoadPlan",
    "ResponseChecker",
    "arrival_offsets",
    "users_for_rate",
]

CORES: Final = ("auto", "mux", "greenlet")
METHODS: Final = ("GET", "HEAD", "POST", "PUT")  # the ones ab picks itself; -m may name any other token
# RFC 9110 token: what ab's -m may send verbatim (DELETE, PATCH, OPTIONS, ...).
_METHOD_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# A request counts as late when it starts more than 1 ms after its scheduled time: wrk2's own granularity,
# and far below a scoring call's latency, so "late" means the generator, not scheduling noise, fell behind.
LATE_AFTER_US: Final = 1_000
# Open loop up to this many requests/s in total (per process): each send is timed to tens of microseconds,
# not to the millisecond of gevent's timers (which would add about 0.7 ms to every corrected latency).
PRECISE_RATE: Final = 200.0
# Open-loop users when none are given: enough for every scheduled request to wait up to this long.
_OPEN_LOOP_LATENCY_BUDGET_S: Final = 1.0
_MAX_DEFAULT_USERS: Final = 1_000

# (2xx body, records it should score) -> None when good, else the reason (a BAD_BODY failure)
ResponseChecker = Callable[[bytes, int], str | None]


def users_for_rate(rate: float) -> int:
    """Users for an open-loop ``rate`` when none are given (as k6's preAllocatedVUs): rate x 1 s, at most 1000."""
    return max(1, min(_MAX_DEFAULT_USERS, math.ceil(rate * _OPEN_LOOP_LATENCY_BUDGET_S)))


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    """One load test. Field names follow ab where ab has the idea (``-n``, ``-c``, ``-t``, ``-s``, ``-k``, ``-l``)."""

    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()  # -H, sent as given (after the engine's defaults, replacing them)
    payloads: PayloadPool | None = None  # -p/-u or the Bank Marketing pool; None: no body
    concurrency: int | None = None  # -c; None: 1 closed loop, users_for_rate(rate) open loop
    requests: int = 1  # -n: requests recorded (after warmup)
    time_limit_s: float | None = None  # -t: stop after this long (interrupted=True)
    timeout_s: float = 30.0  # -s: per connect / write / read, as ab's socket timeout
    keepalive: bool = False  # -k
    rate: float | None = None  # open loop requests/s in total; None: closed loop
    arrivals: str = "constant"  # open loop: constant | poisson
    seed: int = 0  # Poisson schedule
    warmup: int = 0  # requests sent (closed loop) before the measured ones, not recorded
    max_time_s: float = 3600.0  # hard cap on the whole run, whatever else is asked
    accept_variable_length: bool = False  # -l
    checker: ResponseChecker | None = None  # judges 2xx bodies (BAD_BODY)
    verbosity: int = 1  # -v: 2+ prints the request head once and every response head
    progress_every: int | None = None  # on_progress every N completions; None: ab's max(100, n/10) when n > 150
    late_after_us: int = LATE_AFTER_US
    # How users' connections are driven: "auto" (the epoll core for the closed loop over plain http, else the
    # greenlet core), "mux" (the epoll core, or an error), "greenlet" (a gevent socket per user; for comparisons)
    core: str = "auto"

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"url must be http://host[:port]/path or https://..., got {self.url!r}")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError(f"url has an invalid port: {self.url!r}") from None
        if not _METHOD_TOKEN.fullmatch(self.method):
            raise ValueError(f"method must be an HTTP method name such as {', '.join(METHODS)}, got {self.method!r}")
        if self.requests < 1:
            raise ValueError(f"requests (-n) must be at least 1, got {self.requests}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency (-c) must be at least 1, got {self.concurrency}")
        if self.rate is None and self.concurrency is not None and self.concurrency > self.requests:
            raise ValueError(f"concurrency (-c) {self.concurrency} cannot exceed requests (-n) {self.requests}")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be a positive number of requests/s, got {self.rate}")
        if self.arrivals not in ARRIVALS:
            raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}, got {self.arrivals!r}")
        for name in ("time_limit_s", "timeout_s", "max_time_s"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")
        if self.core not in CORES:
            raise ValueError(f"core must be one of {', '.join(CORES)}, got {self.core!r}")
        if self.core == "mux" and (self.rate is not None or urlsplit(self.url).scheme == "https"):
            raise ValueError("core 'mux' runs only the closed loop over plain http (no rate, no https)")
        if self.warmup < 0:
            raise ValueError(f"warmup must be 0 or more requests, got {self.warmup}")
        if self.progress_every is not None and self.progress_every < 1:
            raise ValueError(f"progress_every must be at least 1, got {self.progress_every}")
        for name, value in self.headers:
            if not name or any(c in name + value for c in "\r\n") or ":" in name:
                raise ValueError(f"header {name!r} is not a valid 'Name: value' header")

    @property
    def users(self) -> int:
        """Locust users: concurrent requests (closed loop) or the in-flight bound (open loop)."""
        if self.concurrency is not None:
            return self.concurrency
        return 1 if self.rate is None else users_for_rate(self.rate)

    @property
    def progress_interval(self) -> int | None:
        if self.progress_every is not None:
            return self.progress_every
        return max(100, self.requests // 10) if self.requests > 150 else None  # ab's heartbeatres


def arrival_offsets(rate: float, arrivals: str, count: int, seed: int = 0) -> list[float]:
    """Scheduled send times in seconds from the schedule's start, one per request.

    ``constant``: i / rate. ``poisson``: exponential gaps with mean 1/rate drawn from ``random.Random(seed)``
    (a Poisson process, MLPerf's Server scenario), so the same seed gives the same schedule.
    """
    if arrivals == "constant":
        return [i / rate for i in range(count)]
    if arrivals != "poisson":
        raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}, got {arrivals!r}")
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    offsets, t = [], 0.0
    for _ in range(count):
        offsets.append(t)
        t += rng.expovariate(rate)
    return offsets
