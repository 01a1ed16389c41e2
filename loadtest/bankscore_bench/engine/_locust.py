"""A run on Locust: a headless ``LocalRunner`` whose users each send one concurrent request's share of a ``Run``.

Importing this module imports Locust, which gevent-patches the process; only ``run_load`` imports it. Locust's
own statistics see every request (``_events``), so anything listening to them works as usual.
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
from locust import User, task
from locust.env import Environment
from locust.exception import StopUser

from bankscore_bench._samples import RunInfo, SampleLog
from bankscore_bench.engine._events import locust_counts
from bankscore_bench.engine._loadplan import LoadPlan
from bankscore_bench.engine._run import Run
from bankscore_bench.engine._verbose import request_dump

__all__ = [
    "bench_user_class",
    "cpu_seconds",
    "execute",
    "generator_cpu_fields",
    "quiet_locust_start",
]

_MIN_CPU_WINDOW_S = 0.5  # shorter runs get no CPU figure (rusage ticks are too coarse to judge them)
_SATURATED_PERCENT = 90.0  # Locust's own CPU warning threshold (runners.py CPU_WARNING_THRESHOLD)


def bench_user_class(current_run: Callable[[], Run]) -> type[User]:
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
                run.fail(exc)
            raise StopUser

    return BenchUser


def execute(plan: LoadPlan, on_progress: Callable[[int], None] | None) -> tuple[RunInfo, SampleLog]:
    env = Environment(user_classes=[bench_user_class(lambda: run)])
    run = Run(plan, env.events, on_progress)
    if plan.verbosity >= 2:
        print(request_dump(plan.method, run.requests[0]), end="")
    runner = env.create_local_runner()
    interrupted = gevent.event.Event()
    handle = _on_sigint(interrupted.set)
    scheduler = None
    measured = _Measured()
    try:
        quiet_locust_start(runner, plan.users)
        scheduler = run.start_schedule()
        measured.wait(plan, run, interrupted)
    finally:
        completed = run.tickets.finished.is_set()
        run.end()  # anything that completes from here on is not recorded
        measured.end()
        if scheduler is not None:
            scheduler.kill(block=True)
        runner.cpu_warning_emitted = False  # no "CPU usage was too high" line at the end either
        runner.quit()
        _restore_sigint(handle)
    if run.error is not None:
        raise run.error
    info = run.info(interrupted=not completed or interrupted.is_set())
    if interrupted.is_set():
        info.extra["stopped_by"] = "ctrl-c"  # the CLI exits 130 for Ctrl-C, not for ab's -t
    elif not completed:
        info.extra["stopped_by"] = measured.bound
    info.extra.update(locust_counts(run.events, env))
    generator_cpu_fields(info, measured.cpu_s, measured.wall_s)
    return info, run.log


class _Measured:
    """The measured phase (after warmup): its bounds, and the generator's CPU and wall time over it."""

    def __init__(self) -> None:
        self.hard_start = time.monotonic()
        self.cpu_start, self.wall_start = cpu_seconds(), time.perf_counter()
        self.cpu_s = self.wall_s = 0.0
        self.bound = "max time"

    def wait(self, plan: LoadPlan, run: Run, interrupted: Any) -> None:
        tickets = run.tickets
        interrupted.rawlink(lambda _: tickets.warmed_up.set())  # Ctrl-C during warmup ends the warmup too
        tickets.warmed_up.wait(timeout=plan.max_time_s)
        self.cpu_start, self.wall_start = cpu_seconds(), time.perf_counter()
        stop = gevent.event.Event()
        tickets.finished.rawlink(lambda _: stop.set())
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _on_sigint(callback: Callable[[], None]) -> Any:
    """Ctrl-C stops the run cleanly: a gevent signal watcher, so it fires while the hub waits on sockets."""
    return gevent.signal_handler(signal.SIGINT, callback)


def _restore_sigint(handle: Any) -> None:
    handle.cancel()
