"""A run on Locust: a headless ``LocalRunner``, one ``User`` per concurrent request, tickets for every request.

Importing this module imports Locust, which gevent-patches the process; only ``run_load`` imports it.

Closed loop over plain HTTP: each user adds its connection to the epoll core (``_engine_mux``), which sends
the users' requests from one greenlet. Otherwise (open loop, https) each user loops: take a ticket
(``RunState.next_ticket``), send the ticket's request (``_engine_http.exchange``), record it
(``RunState.record``). Tickets are what keep ab's ``-n`` exact: the counter is taken before sending, so
no more than ``requests`` are ever sent, however many users race for the last ones. Every request also fires
Locust's ``request`` event, so Locust's own statistics (and anything listening to them) exist as usual:
failures at once, successes in batches (``RunState.fire_events``).
"""

from __future__ import annotations

import logging
import resource
import signal
import time
from collections.abc import Callable
from typing import Any

import gevent  # type: ignore[import-untyped]  # gevent ships no type hints
import gevent.event  # type: ignore[import-untyped]
import gevent.queue  # type: ignore[import-untyped]
from locust import User, task
from locust.env import Environment
from locust.exception import StopUser

from bankscore_bench._engine import PRECISE_RATE, LoadPlan, arrival_offsets
from bankscore_bench._engine_http import (
    Connection,
    Exchange,
    Target,
    build_requests,
    exchange,
    request_dump,
    response_dump,
)
from bankscore_bench._engine_mux import Multiplexer
from bankscore_bench._engine_mux import supports as mux_supports
from bankscore_bench._samples import Failure, RunInfo, SampleLog

__all__ = [
    "EventTally",
    "RunState",
    "bench_user_class",
    "cpu_seconds",
    "execute",
    "generator_cpu_fields",
    "locust_counts",
    "quiet_locust_start",
    "run_info",
]

_MIN_CPU_WINDOW_S = 0.5  # shorter runs get no CPU figure (rusage ticks are too coarse to judge them)
EVENT_SLICE = 100  # events fired between two turns of gevent's loop (about 1 ms of Locust's work)
EVENT_BATCH_S = 1.0  # how often Locust's request events for successes are fired (RunState.fire_events)
_TIMER_SLACK_NS = 1_000_000  # how early the precise open loop wakes before a send (gevent's timers' rounding)
_SATURATED_PERCENT = 90.0  # Locust's own CPU warning threshold (runners.py CPU_WARNING_THRESHOLD)


class _NonSuccessError(Exception):
    """What Locust's statistics see for a non-2xx response or a failed request (FastHttpUser does the same)."""


class RunState:
    """The shared state of one run: tickets, the sample log, the first response's facts, the stop signal."""

    def __init__(self, plan: LoadPlan, target: Target, on_progress: Callable[[int], None] | None) -> None:
        self.plan = plan
        self.target = target
        self.on_progress = on_progress
        self.progress_every = plan.progress_interval or 0
        pool = plan.payloads
        self.requests_bytes = build_requests(
            target,
            plan.method,
            plan.headers,
            pool.payloads if pool else (),
            pool.content_type if pool else None,
            keepalive=plan.keepalive,
        )
        self.records = [p.records for p in pool.payloads] if pool else [0]
        self.log = SampleLog()
        log = self.log
        # The log's appends, bound once: record() is the hot path and appends to every column.
        self.columns = (
            log.intended_us.append, log.start_us.append, log.connect_us.append, log.wait_us.append,
            log.total_us.append, log.status.append, log.failure.append, log.bytes_read.append,
            log.body_bytes.append, log.bytes_sent.append, log.keepalive.append, log.records.append,
        )  # fmt: skip
        self.sent_sizes = [len(request) for request in self.requests_bytes]
        self.events_fired = 0  # rows of the log whose Locust request event has been fired
        self.announcer: Any = None  # the greenlet firing Locust's events, from the first user's start
        self.issued = 0  # tickets handed out, warmup included
        self.warmup_left = plan.warmup
        self.warmed_up = gevent.event.Event()
        if plan.warmup == 0:
            self.warmed_up.set()
        self.finished = gevent.event.Event()
        self.queue: gevent.queue.Queue[tuple[int, int]] | None = gevent.queue.Queue() if plan.rate else None
        self.scheduled = 0  # open loop: tickets put on the queue
        self.started = 0  # open loop: measured tickets taken by a user
        self.late = 0
        self.write_errors = 0
        self.document_length: int | None = None
        self.server_software: str | None = None
        self.verbose = plan.verbosity >= 2
        # perf_counter ns -> epoch µs, one fixed offset for the whole run
        self.epoch_offset_ns = time.time_ns() - time.perf_counter_ns()
        self.locust_events: Any = None
        self.error: Exception | None = None
        self.name = target.path
        # The closed loop over plain HTTP runs on the epoll core (_engine_mux) unless the plan asks otherwise.
        self.mux: Multiplexer | None = None
        if plan.core != "greenlet" and mux_supports(target, open_loop=plan.rate is not None):
            self.mux = Multiplexer(self)

    # --- tickets -----------------------------------------------------------------------------------------

    def next_ticket(self) -> tuple[int, int] | None:
        """(index, intended perf_counter ns or 0), or None when this user has nothing more to send."""
        plan = self.plan
        if self.finished.is_set():
            return None
        if self.issued < plan.warmup:  # warmup requests go back to back in both load models
            self.issued += 1
            return self.issued - 1, 0
        self.warmed_up.wait()
        if self.queue is None:
            if self.issued >= plan.warmup + plan.requests or self.finished.is_set():
                return None
            self.issued += 1
            return self.issued - 1, 0
        ticket: tuple[int, int] = self.queue.get()
        if self.finished.is_set():
            return None
        self.started += 1
        return ticket

    def schedule(self) -> None:
        """Open loop: put each measured ticket on the queue at its scheduled time (one global schedule)."""
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

    # --- one request -------------------------------------------------------------------------------------

    def work(self) -> None:
        """One user's loop until the tickets run out or the run stops."""
        if self.announcer is None:
            self.announcer = gevent.spawn(self._announce)
        if self.mux is not None:
            self.mux.join()
            return
        plan, target = self.plan, self.target
        conn = Connection()
        pool = self.requests_bytes
        try:
            while True:
                ticket = self.next_ticket()
                if ticket is None:
                    return
                index, intended_ns = ticket
                slot = index % len(pool)
                result = exchange(target, conn, pool[slot], plan.method, keepalive=plan.keepalive)
                self.record(index, intended_ns, slot, result)
        finally:
            conn.close()

    def record(self, index: int, intended_ns: int, slot: int, result: Exchange) -> None:
        plan = self.plan
        if index < plan.warmup:
            self.warmup_left -= 1
            if self.warmup_left == 0:
                self.warmed_up.set()
            return
        if self.finished.is_set():
            return  # completed after the run was stopped: not part of it
        if result.write_error:
            self.write_errors += 1
        body_len = len(result.body)
        records = self.records[slot]
        status = result.status
        failure = result.failure if result.failure is not Failure.NONE else self._judge(result, body_len, records)
        if self.verbose:
            self._print_verbose(result)
        start_ns = result.start_ns
        if intended_ns == 0:
            intended_ns = start_ns
        elif start_ns - intended_ns > plan.late_after_us * 1000:
            self.late += 1
        offset = self.epoch_offset_ns
        total_us = (result.end_ns - start_ns) // 1000
        (
            intended_us, start_us, connect_us, wait_us, total, statuses, failures, bytes_read, body_bytes,
            bytes_sent, keepalive, records_column,
        ) = self.columns  # fmt: skip
        intended_us((intended_ns + offset) // 1000)
        start_us((start_ns + offset) // 1000)
        connect_us(result.connect_ns // 1000)
        wait_us(result.wait_ns // 1000)
        total(total_us)
        statuses(status)
        failures(failure)
        bytes_read(result.bytes_read)
        body_bytes(body_len)
        bytes_sent(self.sent_sizes[slot])
        keepalive(1 if result.keepalive and plan.keepalive else 0)
        records_column(records)
        if failure is not Failure.NONE or not 200 <= status < 300:
            # A failure's reason is not in the log: its event goes now (fire_events skips it)
            self._fire(
                total_us, body_len, (start_ns + offset) / 1e9, _NonSuccessError(result.reason or f"HTTP {status}")
            )
        done = len(self.log.total_us)
        if self.progress_every and done % self.progress_every == 0 and self.on_progress is not None:
            self.on_progress(done)
        if done >= plan.requests:
            self.finished.set()

    def end(self) -> None:
        """Stop the run: nothing completing from now on is recorded; the epoll core closes its sockets."""
        self.finished.set()
        if self.mux is not None:
            self.mux.stop()

    def _judge(self, result: Exchange, body_len: int, records: int) -> Failure:
        """ab's length rule, then the response checker, for an exchange that went through."""
        plan = self.plan
        if self.document_length is None:
            self.document_length = body_len
            self.server_software = _server_software(result.server())
        elif body_len != self.document_length and not plan.accept_variable_length:
            return Failure.LENGTH
        if 200 <= result.status < 300 and plan.checker is not None:
            reason = plan.checker(bytes(result.body), records)
            if reason is not None:
                result.reason = reason
                return Failure.BAD_BODY
        return Failure.NONE

    def fire_events(self, at_most: int | None = None) -> bool:
        """Fire Locust's ``request`` event for recorded successes not yet announced (``at_most`` of them);
        True while some are left.

        Successes are announced in batches (the announcer, and the rest at the end), not one by one: the
        event and Locust's statistics behind it cost more Python per request than the request itself, and
        firing them inline halved the requests/s one process could send. Each event still carries its
        request's own start time and response time; only Locust's per-second request counts (which it
        stamps with the time of the event) shift by up to the batch interval.
        """
        if self.locust_events is None:
            return False
        log = self.log
        begin, available = self.events_fired, len(log.total_us)
        end = available if at_most is None else min(available, begin + at_most)
        self.events_fired = end
        statuses, failures, totals, bodies, starts = log.status, log.failure, log.total_us, log.body_bytes, log.start_us
        for i in range(begin, end):
            status = statuses[i]
            if failures[i] or not 200 <= status < 300:
                continue  # fired when it was recorded
            self._fire(totals[i], bodies[i], starts[i] / 1e6, None)
        return end < available

    def _announce(self) -> None:
        """The announcer greenlet: successes in slices until the run ends (``locust_counts`` fires the rest).

        A slice at a time with the loop in between: a whole second's events at once (about 8 us each) froze
        the generator for 150 ms a second at 20,000 requests/s, and the requests in flight paid for it.
        """
        while not self.finished.wait(timeout=EVENT_BATCH_S):
            while self.fire_events(at_most=EVENT_SLICE) and not self.finished.is_set():
                gevent.sleep(0)

    def _fire(self, total_us: int, body_len: int, start_s: float, error: Exception | None) -> None:
        """One Locust ``request`` event, as FastHttpUser fires it (epoch start time, milliseconds)."""
        self.locust_events.request.fire(
            request_type=self.plan.method,
            name=self.name,
            response_time=total_us / 1000,
            response_length=body_len,
            response=None,
            context={},
            exception=error,
            start_time=start_s,
            url=self.plan.url,
        )

    def _print_verbose(self, result: Exchange) -> None:
        # ab's order and levels: the head at -v 2, then a warning for a non-2xx (-v 2) or the code (-v 3)
        if result.head:
            print(response_dump(result.head, bytes(result.body)), end="")
        if result.status and result.status // 100 != 2:
            print(f"WARNING: Response code not 2xx ({result.status})")
        elif result.status and self.plan.verbosity >= 3:
            print(f"LOG: Response code = {result.status}")


def _server_software(value: str | None) -> str:
    """ab's rule: the Server header up to its first character <= 0x20."""
    if not value:
        return ""
    for i, char in enumerate(value):
        if ord(char) <= 0x20:
            return value[:i]
    return value


def bench_user_class(current_run: Callable[[], RunState]) -> type[User]:
    """The Locust user class: it sends ``current_run()``'s tickets back to back (no think time: ab has none).

    The run is looked up when a user starts, so a distributed worker can learn its share after the class is
    registered. The class name is what the master and its workers agree on.
    """

    class BenchUser(User):  # type: ignore[misc]  # Locust is untyped for mypy (pyproject)
        @task  # type: ignore[untyped-decorator]
        def send(self) -> None:
            run = current_run()
            try:
                run.work()
            except Exception as exc:  # a bug, not a failed request: end the run and raise it (no hang)
                run.error = exc
                run.finished.set()
            raise StopUser

    return BenchUser


def execute(plan: LoadPlan, on_progress: Callable[[int], None] | None) -> tuple[RunInfo, SampleLog]:
    target = Target(plan.url, plan.timeout_s)
    run = RunState(plan, target, on_progress)
    if run.verbose:
        print(request_dump(plan.method, run.requests_bytes[0]), end="")
    env = Environment(user_classes=[bench_user_class(lambda: run)])
    run.locust_events = env.events
    runner = env.create_local_runner()
    interrupted = gevent.event.Event()
    handle = _on_sigint(interrupted.set)
    scheduler = None
    measured = _Measured()
    try:
        quiet_locust_start(runner, plan.users)
        if run.queue is not None:
            scheduler = gevent.spawn(run.schedule)
        measured.wait(plan, run, interrupted)
    finally:
        completed = run.finished.is_set()
        run.end()  # anything that completes from here on is not recorded
        measured.end()
        if scheduler is not None:
            scheduler.kill(block=True)
        runner.cpu_warning_emitted = False  # no "CPU usage was too high" line at the end either
        runner.quit()
        _restore_sigint(handle)
    if run.error is not None:
        raise run.error
    info = run_info(plan, run, interrupted=not completed or interrupted.is_set())
    if interrupted.is_set():
        info.extra["stopped_by"] = "ctrl-c"  # the CLI exits 130 for Ctrl-C, not for ab's -t
    elif not completed:
        info.extra["stopped_by"] = measured.bound
    info.extra.update(locust_counts(run, env))
    generator_cpu_fields(info, measured.cpu_s, measured.wall_s)
    return info, run.log


class _Measured:
    """The measured phase (after warmup): its bounds, and the generator's CPU and wall time over it."""

    def __init__(self) -> None:
        self.hard_start = time.monotonic()
        self.cpu_start, self.wall_start = cpu_seconds(), time.perf_counter()
        self.cpu_s = self.wall_s = 0.0
        self.bound = "max time"

    def wait(self, plan: LoadPlan, run: RunState, interrupted: Any) -> None:
        interrupted.rawlink(lambda _: run.warmed_up.set())  # Ctrl-C during warmup ends the warmup too
        run.warmed_up.wait(timeout=plan.max_time_s)
        self.cpu_start, self.wall_start = cpu_seconds(), time.perf_counter()
        stop = gevent.event.Event()
        run.finished.rawlink(lambda _: stop.set())
        interrupted.rawlink(lambda _: stop.set())
        left = plan.max_time_s - (time.monotonic() - self.hard_start)
        if plan.time_limit_s is not None and plan.time_limit_s <= left:
            self.bound, left = "time limit", plan.time_limit_s
        stop.wait(timeout=max(0.0, left))

    def end(self) -> None:
        self.cpu_s = cpu_seconds() - self.cpu_start
        self.wall_s = time.perf_counter() - self.wall_start


def generator_cpu_fields(info: RunInfo, cpu_seconds: float, wall_seconds: float) -> None:
    """The generator's CPU use over the measured phase, and a warning when it nears one full core."""
    if wall_seconds < _MIN_CPU_WINDOW_S:
        return  # a few milliseconds of CPU accounting say nothing about saturation
    info.generator_cpu_percent = round(100.0 * cpu_seconds / wall_seconds, 1)
    if info.generator_cpu_percent >= _SATURATED_PERCENT:
        info.extra["generator_saturated"] = "yes"
        info.extra["warning"] = (
            f"the load generator used {info.generator_cpu_percent:.0f}% of one core: the numbers may measure "
            "the generator, not the server (use --workers, or fewer users)"
        )


def quiet_locust_start(runner: Any, users: int) -> None:
    """Start all users at once, without Locust's log lines on stderr (the CLI prints ab's report there).

    Locust warns about spawn rates over 100/s (a bench wants every user at once) and about CPU use over 90%;
    the engine measures its own CPU use into ``RunInfo.generator_cpu_percent`` and warns through that instead.
    """
    logger = logging.getLogger("locust.runners")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        runner.start(users, spawn_rate=users)
        if runner.spawning_greenlet is not None:  # a master dispatches synchronously; a local runner spawns
            runner.spawning_greenlet.join()  # every user started (one batch: the spawn rate is the user count)
    finally:
        logger.setLevel(level)
    runner.cpu_warning_emitted = True  # the monitor logs only the first warning: mark it as already given


def run_info(plan: LoadPlan, run: RunState, *, interrupted: bool) -> RunInfo:
    target = run.target
    log = run.log
    now_us = time.time_ns() // 1000
    if len(log):
        started = min(log.start_us)
        ended = max(start + total for start, total in zip(log.start_us, log.total_us, strict=True))
    else:
        started = ended = now_us
    return RunInfo(
        url=plan.url,
        host=target.host,
        port=target.port,
        path=target.path,
        method=plan.method,
        concurrency=plan.users,
        started_us=started,
        ended_us=ended,
        server_software=run.server_software or "",
        document_length=None if plan.accept_variable_length else run.document_length,
        keepalive=plan.keepalive,
        posted=plan.payloads is not None,
        write_errors=run.write_errors,
        rate=plan.rate,
        arrivals=plan.arrivals if plan.rate else "closed",
        late=run.late,
        dropped=max(0, run.scheduled - run.started) if plan.rate else 0,
        interrupted=interrupted,
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

    def counts(self, run: RunState) -> dict[str, str]:
        """The ended share's counts (every event fired first); the tally starts again for the next share."""
        run.fire_events()
        counts = {"locust_requests": str(self.requests), "locust_failures": str(self.failures)}
        self.requests = self.failures = 0
        return counts


def locust_counts(run: RunState, env: Any) -> dict[str, str]:
    """Locust's own view of the run's requests (its rounded statistics), for cross-checks and Locust users:
    every request's event fired first."""
    run.fire_events()
    return {
        "locust_requests": str(env.stats.total.num_requests),
        "locust_failures": str(env.stats.total.num_failures),
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _on_sigint(callback: Callable[[], None]) -> Any:
    """Ctrl-C stops the run cleanly: a gevent signal watcher, so it fires while the hub waits on sockets."""
    return gevent.signal_handler(signal.SIGINT, callback)


def _restore_sigint(handle: Any) -> None:
    handle.cancel()
