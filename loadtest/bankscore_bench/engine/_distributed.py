"""Distributed runs on Locust's own master and worker runners, with every request's row shipped to the master.

``--workers N`` starts a master in this process and N worker processes on this machine
(``run_local_workers``); ``--master`` / ``--worker --master-host H`` do the same across machines
(``run_master`` / ``run_worker``). Each worker is given its share of the run by the master: ``n`` requests in
total, split as evenly as possible (so exactly ``n`` are sent), the open-loop rate split the same way (each
worker its own seeded schedule), the time limit as is. Users are dispatched by Locust's master as usual.

Rows travel as ``SampleLog.to_columns()`` bytes, nothing rounded: every ``report_to_master`` (Locust's
3-second worker report) carries the rows recorded since the previous shipment, and a final
``bankscore_rows`` message carries the rest when the worker's share is done. One shipping cursor per worker
means no row is sent twice or left behind; the master merges with ``SampleLog.extend``.

A local worker gets its plan (headers, key included) through its stdin, never a file: nothing is left behind
if the master is killed. The master keeps that pipe open for the worker's life; the worker exits as soon as it
closes (the master is gone, even by ``kill -9``), and on Linux the kernel also sends it SIGTERM then
(``PR_SET_PDEATHSIG``), in case its loop is too busy to notice. Locust alone would keep it for a minute.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from bankscore_bench._aboptions import DEFAULT_MASTER_PORT
from bankscore_bench._samples import COLUMNS, RunInfo, SampleLog
from bankscore_bench.engine._loadplan import LoadPlan

__all__ = [
    "RowShipper",
    "WorkerShare",
    "merge_run_infos",
    "run_local_workers",
    "run_master",
    "run_worker",
    "split_shares",
]

SHARE_MESSAGE: Final = "bankscore_share"
# A worker says it is ready for its share once it listens for it: Locust's own "ready" comes while the worker
# is still being created, and a share that arrived before its handler was registered would be dropped.
READY_MESSAGE: Final = "bankscore_ready"
ROWS_MESSAGE: Final = "bankscore_rows"
STOP_MESSAGE: Final = "bankscore_stop"
REPORT_KEY: Final = "bankscore_rows"
_FINAL_GRACE_S: Final = 30.0  # after a stop, how long the master waits for the workers' last rows
_CONNECT_WAIT_S: Final = 60.0  # how long the master waits for its workers to connect
# Locust marks a worker missing after 3 heartbeats (~3 s) without word, and stops the whole test when the last
# one goes missing. A bench saturates its workers on purpose, so a busy one is given this many seconds instead.
_HEARTBEAT_LIVENESS: Final = 20
_POLL_S: Final = 0.1


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerShare:
    """What one worker does: its count of requests, its open-loop rate and schedule seed."""

    requests: int
    rate: float | None
    seed: int


def split_shares(plan: LoadPlan, workers: int) -> list[WorkerShare]:
    """``plan.requests`` split over ``workers`` (the first ones get one more), the rate split evenly."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers > plan.users:
        raise ValueError(f"concurrency (-c) {plan.users} must be at least --workers {workers}: each runs a user")
    if workers > plan.requests:
        raise ValueError(f"requests (-n) {plan.requests} must be at least --workers {workers}")
    base, extra = divmod(plan.requests, workers)
    rate = plan.rate / workers if plan.rate is not None else None
    return [WorkerShare(base + (1 if i < extra else 0), rate, plan.seed + i) for i in range(workers)]


class RowShipper:
    """A worker's cursor over its sample log: each shipment is the rows since the previous one."""

    def __init__(self, log: SampleLog) -> None:
        self.log = log
        self.shipped = 0

    def next_chunk(self) -> dict[str, bytes]:
        end = len(self.log)
        chunk = SampleLog()
        for name in COLUMNS:
            getattr(chunk, name).extend(getattr(self.log, name)[self.shipped : end])
        self.shipped = end
        return chunk.to_columns()


def merge_run_infos(plan: LoadPlan, infos: list[RunInfo], log: SampleLog) -> RunInfo:
    """One ``RunInfo`` for the merged run: the workers' first facts, their counters summed, the wall clock spanned."""
    if len(log):
        started = min(log.start_us)
        ended = max(s + t for s, t in zip(log.start_us, log.total_us, strict=True))
    else:
        started = ended = time.time_ns() // 1000
    first = next((i for i in infos if i.server_software or i.document_length is not None), infos[0] if infos else None)
    cpus = [i.generator_cpu_percent for i in infos if i.generator_cpu_percent is not None]
    info = RunInfo(
        url=plan.url,
        host=first.host if first else "",
        port=first.port if first else 0,
        path=first.path if first else "",
        method=plan.method,
        concurrency=plan.users,
        started_us=started,
        ended_us=ended,
        server_software=first.server_software if first else "",
        document_length=first.document_length if first else None,
        keepalive=plan.keepalive,
        posted=plan.payloads is not None,
        write_errors=sum(i.write_errors for i in infos),
        rate=plan.rate,
        arrivals=plan.arrivals if plan.rate else "closed",
        late=sum(i.late for i in infos),
        dropped=sum(i.dropped for i in infos),
        interrupted=any(i.interrupted for i in infos) or len(infos) == 0,
        # the busiest worker: a saturated worker is what makes the numbers the generator's, not the server's
        generator_cpu_percent=max(cpus) if cpus else None,
    )
    info.extra["workers"] = str(len(infos))
    info.extra["worker_cpu_percent"] = ",".join(f"{c:.1f}" for c in cpus)
    for key in ("generator_saturated", "warning"):
        flagged = [i.extra[key] for i in infos if key in i.extra]
        if flagged:
            info.extra[key] = flagged[0]
    for key in ("locust_requests", "locust_failures"):
        info.extra[key] = str(sum(int(i.extra.get(key, "0")) for i in infos))
    return info


# --- the worker --------------------------------------------------------------------------------------------


def run_worker(plan: LoadPlan, master_host: str, master_port: int) -> None:
    """Serve a master until it quits: run each share it sends, ship every row back."""
    import signal

    import gevent  # type: ignore[import-untyped]  # gevent ships no type hints
    import gevent.event  # type: ignore[import-untyped]
    from locust.env import Environment

    from bankscore_bench.engine._events import EventTally
    from bankscore_bench.engine._locust import bench_user_class, cpu_seconds, generator_cpu_fields
    from bankscore_bench.engine._run import Run

    state: dict[str, Any] = {}
    env = Environment(user_classes=[bench_user_class(lambda: state["run"])])
    runner = env.create_worker_runner(master_host, master_port)
    stop = gevent.event.Event()
    tally = EventTally(env)

    def on_share(environment: Any, msg: Any, **_: Any) -> None:
        share = msg.data
        sub = dataclasses.replace(
            plan, requests=share["requests"], rate=share["rate"], seed=share["seed"], concurrency=None
        )
        run = Run(sub, env.events)
        state["run"], state["shipper"] = run, RowShipper(run.log)
        gevent.spawn(_finish_share, sub, run)

    def _finish_share(sub: LoadPlan, run: Run) -> None:
        scheduler = run.start_schedule()
        run.tickets.warmed_up.wait(timeout=sub.max_time_s)
        cpu_before, wall_before = cpu_seconds(), time.perf_counter()
        limits = [sub.max_time_s] + ([sub.time_limit_s] if sub.time_limit_s is not None else [])
        waiter = gevent.spawn(run.tickets.finished.wait)
        gevent.joinall([waiter, gevent.spawn(stop.wait)], timeout=min(limits), count=1)
        completed = run.tickets.finished.is_set() and not stop.is_set()
        run.end()
        cpu_after, wall_after = cpu_seconds(), time.perf_counter()
        if scheduler is not None:
            scheduler.kill(block=True)
        info = run.info(interrupted=not completed)
        _stopped_by(info, sub, ctrl_c=stop.is_set(), completed=completed)
        generator_cpu_fields(info, cpu_after - cpu_before, wall_after - wall_before)
        info.extra.update(tally.counts(run.events))
        rows = state["shipper"].next_chunk()
        # Plain data, not a pickle: the master must not unpickle what arrives over the network.
        runner.send_message(ROWS_MESSAGE, {"rows": rows, "info": dataclasses.asdict(info), "recorded": len(run.log)})

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        shipper = state.get("shipper")
        if shipper is not None:
            data[REPORT_KEY] = shipper.next_chunk()

    _listen(runner, env, on_share=on_share, on_stop=stop.set, on_report=on_report)
    handle = gevent.signal_handler(signal.SIGINT, stop.set)  # Ctrl-C reaches local workers too: ship, then quit
    try:
        runner.greenlet.join()
    finally:
        handle.cancel()


def _listen(
    runner: Any, env: Any, *, on_share: Callable[..., None], on_stop: Callable[[], None], on_report: Callable[..., None]
) -> None:
    """Register the worker's handlers, then tell the master it may send the share."""
    runner.register_message(SHARE_MESSAGE, on_share)
    runner.register_message(STOP_MESSAGE, lambda **_: on_stop())
    env.events.report_to_master.add_listener(on_report)
    runner.send_message(READY_MESSAGE, None)


# --- the master --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Collected:
    log: SampleLog = dataclasses.field(default_factory=SampleLog)
    by_worker: dict[str, SampleLog] = dataclasses.field(default_factory=dict)
    infos: dict[str, RunInfo] = dataclasses.field(default_factory=dict)
    recorded: dict[str, int] = dataclasses.field(default_factory=dict)  # rows each finished worker recorded
    reported: int = 0  # the last progress count given to the caller

    def report_progress(self, plan: LoadPlan, on_progress: Callable[[int], None] | None) -> None:
        every = plan.progress_interval
        if on_progress is None or not every:
            return
        while self.reported + every <= min(len(self.log), plan.requests):
            self.reported += every
            on_progress(self.reported)

    def add(self, worker: str, columns: Mapping[str, bytes]) -> None:
        rows = SampleLog.from_columns(columns)
        self.log.extend(rows)
        self.by_worker.setdefault(worker, SampleLog()).extend(rows)

    def complete(self, workers: int) -> bool:
        """Every worker finished and every row it recorded has arrived (reports and the final message may
        arrive in either order, so the count, not the final message, says when nothing is missing)."""
        if len(self.recorded) < workers:
            return False
        return all(len(self.by_worker.get(w, ())) == n for w, n in self.recorded.items())


def run_master(
    plan: LoadPlan,
    workers: int,
    *,
    bind_host: str = "*",
    bind_port: int = DEFAULT_MASTER_PORT,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[RunInfo, SampleLog]:
    """Wait for ``workers`` workers, give each its share, merge every row they ship; returns the merged run."""
    info, log, _ = _master(plan, workers, (bind_host, bind_port), on_progress)
    return info, log


def _master(
    plan: LoadPlan,
    workers: int,
    bind: tuple[str, int],
    on_progress: Callable[[int], None] | None,
    workers_running: Callable[[], int] | None = None,
) -> tuple[RunInfo, SampleLog, dict[str, SampleLog]]:
    """``run_master`` listening on ``bind`` (host, port), also returning each worker's own rows (how the tests
    check that the merge loses none).

    ``workers_running`` (local workers: how many of their processes still run) ends the run early when one
    exits: the others are stopped and their rows kept, rather than waiting for rows that cannot come."""
    import signal

    import gevent
    import gevent.event
    from locust import runners
    from locust.env import Environment

    from bankscore_bench.engine._locust import bench_user_class, quiet_locust_start

    shares = split_shares(plan, workers)
    env = Environment(user_classes=[bench_user_class(_no_users_on_a_master)])
    bind_host, bind_port = bind
    runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=bind_port)
    collected = _Collected()
    done = gevent.event.Event()
    stopped = gevent.event.Event()

    def progress() -> None:
        collected.report_progress(plan, on_progress)

    def on_report(client_id: str, data: dict[str, Any]) -> None:
        if REPORT_KEY in data:
            collected.add(client_id, data[REPORT_KEY])
            progress()
            if collected.complete(len(shares)):
                done.set()

    def on_rows(environment: Any, msg: Any, **_: Any) -> None:
        collected.add(msg.node_id, msg.data["rows"])
        collected.infos[msg.node_id] = RunInfo(**msg.data["info"])
        collected.recorded[msg.node_id] = int(msg.data["recorded"])
        progress()
        if collected.complete(len(shares)):
            done.set()

    said_ready: list[str] = []
    env.events.worker_report.add_listener(on_report)
    runner.register_message(ROWS_MESSAGE, on_rows)
    runner.register_message(READY_MESSAGE, lambda msg, **_: said_ready.append(msg.node_id))
    handle = gevent.signal_handler(signal.SIGINT, stopped.set)
    liveness, runners.HEARTBEAT_LIVENESS = runners.HEARTBEAT_LIVENESS, _HEARTBEAT_LIVENESS  # read at each beat
    lost = ""
    try:
        ready = _await_workers(runner, workers, min(_CONNECT_WAIT_S, plan.max_time_s), stopped, said_ready)
        for share, client_id in zip(shares, ready, strict=False):
            runner.send_message(SHARE_MESSAGE, dataclasses.asdict(share), client_id=client_id)
        quiet_locust_start(runner, plan.users)
        limits = [plan.max_time_s] + ([plan.time_limit_s + _FINAL_GRACE_S] if plan.time_limit_s is not None else [])
        lost = _wait_for_rows(runner, done, stopped, workers, workers_running, time.monotonic() + min(limits))
        if not done.is_set():  # Ctrl-C, the cap or a lost worker: ask for the last rows, wait a little for them
            runner.send_message(STOP_MESSAGE, {})
            _await_last_rows(done, collected, workers_running)
    finally:
        runners.HEARTBEAT_LIVENESS = liveness
        handle.cancel()
        runner.quit()
    return (
        _merged_info(plan, collected, len(shares), ctrl_c=stopped.is_set(), lost=lost),
        collected.log,
        collected.by_worker,
    )


def _merged_info(plan: LoadPlan, collected: _Collected, workers: int, *, ctrl_c: bool, lost: str) -> RunInfo:
    info = merge_run_infos(plan, list(collected.infos.values()), collected.log)
    complete = collected.complete(workers)
    if ctrl_c or not complete:
        info.interrupted = True
    _merged_stop(info, list(collected.infos.values()), ctrl_c=ctrl_c)
    if lost and not complete:
        info.extra["stopped_by"] = "lost worker"
        info.extra["warning"] = lost
    return info


def _wait_for_rows(
    runner: Any, done: Any, stopped: Any, workers: int, workers_running: Callable[[], int] | None, deadline: float
) -> str:
    """Wait until every row is in, Ctrl-C or ``deadline``; returns why a worker was lost ("" if none was)."""
    import gevent
    from locust.runners import STATE_STOPPED, STATE_STOPPING

    while not (done.is_set() or stopped.is_set()) and time.monotonic() < deadline:
        if workers_running is not None and workers_running() < workers:
            return "a local worker process exited before its share was done; the rows shipped are kept"
        if runner.state in (STATE_STOPPING, STATE_STOPPED):  # Locust's master gave up: every worker went silent
            return "every worker stopped answering Locust's heartbeats; the rows they shipped are kept"
        gevent.sleep(_POLL_S)
    return ""


def _await_last_rows(done: Any, collected: _Collected, workers_running: Callable[[], int] | None) -> None:
    """After a stop: wait a little for the rows still on their way, less when every running worker has sent."""
    import gevent

    grace_ends = time.monotonic() + _FINAL_GRACE_S
    while not done.is_set() and time.monotonic() < grace_ends:
        if workers_running is not None and len(collected.recorded) >= workers_running():
            return  # every worker still running has sent its last rows
        gevent.sleep(_POLL_S)


def _stopped_by(info: RunInfo, plan: LoadPlan, *, ctrl_c: bool, completed: bool) -> None:
    if ctrl_c:
        info.extra["stopped_by"] = "ctrl-c"
    elif not completed:
        info.extra["stopped_by"] = "time limit" if plan.time_limit_s is not None else "max time"


def _merged_stop(info: RunInfo, infos: list[RunInfo], *, ctrl_c: bool) -> None:
    stops = [i.extra["stopped_by"] for i in infos if "stopped_by" in i.extra]
    if ctrl_c:
        info.extra["stopped_by"] = "ctrl-c"
    elif stops:
        info.extra["stopped_by"] = stops[0]


def _no_users_on_a_master() -> Any:
    raise RuntimeError("a master runs no users")


def _await_workers(runner: Any, workers: int, timeout_s: float, stopped: Any, said_ready: list[str]) -> list[str]:
    """The ids of ``workers`` workers that Locust counts ready and that said they listen for their share
    (``said_ready``, filled as their messages arrive), in a stable order."""
    import gevent

    deadline = time.monotonic() + timeout_s
    while True:
        locust_ready = {client.id for client in runner.clients.ready}
        ready = sorted(set(said_ready) & locust_ready)
        if len(ready) >= workers:
            return ready[:workers]
        if time.monotonic() > deadline or stopped.is_set():
            raise OSError(f"only {len(ready)} of --workers {workers} connected to the master")
        gevent.sleep(0.05)


def run_local_workers(
    plan: LoadPlan, workers: int, *, on_progress: Callable[[int], None] | None = None
) -> tuple[RunInfo, SampleLog]:
    """``--workers N``: a master here and N worker processes on this machine (one core each, as Locust advises)."""
    info, log, _ = _local(plan, workers, on_progress)
    return info, log


def _local(
    plan: LoadPlan, workers: int, on_progress: Callable[[int], None] | None
) -> tuple[RunInfo, SampleLog, dict[str, SampleLog]]:
    split_shares(plan, workers)  # a bad split fails here, before any process starts
    port = _free_port()
    command = [sys.executable, "-m", "bankscore_bench.engine._distributed", "127.0.0.1", str(port)]
    pickled = pickle.dumps(plan)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # All started before any is fed, so they import in parallel. Each stdin pipe's write end is held by
        # this process only (Python's pipes are not inherited), so it closes when this process ends.
        procs.extend(subprocess.Popen(command, stdin=subprocess.PIPE) for _ in range(workers))  # noqa: S603
        for proc in procs:
            assert proc.stdin is not None  # stdin=PIPE
            try:
                proc.stdin.write(pickled)
                proc.stdin.flush()
            except BrokenPipeError:
                raise OSError(f"a local worker exited before its start (exit code {proc.wait()})") from None
        return _master(
            plan, workers, ("127.0.0.1", port), on_progress, lambda: sum(proc.poll() is None for proc in procs)
        )
    finally:
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdin is not None:
                with contextlib.suppress(BrokenPipeError):  # unflushed bytes of a worker that never read its plan
                    proc.stdin.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


def _die_with_master() -> None:
    """Linux: have the kernel send SIGTERM when the master dies, whatever this process is doing then.

    The signal follows the thread that started this process; the master starts its workers from its main
    thread, which lives as long as the master does."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):  # no prctl in this libc: the master's pipe is watched
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _exit_when_closed(fd: int) -> None:
    """Wait for the master's pipe to end, then exit the process: there is nobody left to report to."""
    import gevent.os  # type: ignore[import-untyped]  # gevent ships no type hints

    gevent.os.make_nonblocking(fd)
    while gevent.os.nb_read(fd, 4096):
        pass
    sys.stderr.write("bankscore-bench worker: the master is gone; exiting\n")
    sys.stderr.flush()
    os._exit(1)  # at once: Locust's clean-up would wait for the missing master


def _worker_main(argv: list[str]) -> int:
    """``python -m bankscore_bench.engine._distributed MASTER_HOST MASTER_PORT`` (a local worker), its plan
    pickled on stdin by the master, which keeps stdin open as long as it runs."""
    host, port = argv
    _die_with_master()
    stdin = sys.stdin.buffer
    try:
        plan = pickle.load(stdin)  # noqa: S301 - from our own master, through a pipe only it holds
    except EOFError:  # the master was gone before it sent the plan
        return 1
    import gevent
    import locust  # noqa: F401  # its import patches the process for gevent, which the watcher needs first

    # A greenlet: the load loops hand gevent's hub a turn every few milliseconds, and a loop that did not
    # is what PR_SET_PDEATHSIG is for. (A native thread started before Locust's patching deadlocks it.)
    gevent.spawn(_exit_when_closed, stdin.fileno())
    run_worker(plan, host, int(port))
    return 0


if __name__ == "__main__":
    raise SystemExit(_worker_main(sys.argv[1:]))
