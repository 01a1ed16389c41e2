"""Shared fixtures of the bankscore-bench tests (each helper's fixtures carry its prefix)."""

from __future__ import annotations

import contextlib
import json
import pickle
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from bankscore_tests_loopback import free_port

from bankscore_bench._samples import Failure, RequestSample, RunInfo, SampleLog

# --- stats_: synthetic runs for the statistics, thresholds, sweep and report tests -------------------------

STATS_EPOCH_US = 1_800_000_000_000_000  # a fixed wall clock so reports are reproducible

StatsRunFactory = Callable[..., tuple[RunInfo, SampleLog]]


def _stats_synthetic_run(
    total_us: Sequence[int],
    *,
    start_us: Sequence[int] | None = None,
    intended_us: Sequence[int] | None = None,
    status: Sequence[int] | int = 200,
    failure: Sequence[Failure] | Failure = Failure.NONE,
    records: int = 1,
    rate: float | None = None,
    concurrency: int = 1,
    **info: object,
) -> tuple[RunInfo, SampleLog]:
    """A run whose rows have the given latencies; starts (µs from the run start) default to back to back."""
    count = len(total_us)
    if start_us is None:
        offsets, clock = [], 0
        for latency in total_us:
            offsets.append(clock)
            clock += latency
        start_us = offsets
    intended = intended_us if intended_us is not None else start_us
    statuses = [status] * count if isinstance(status, int) else list(status)
    failures = [failure] * count if isinstance(failure, Failure) else list(failure)
    log = SampleLog()
    for i in range(count):
        log.append(
            RequestSample(
                intended_us=STATS_EPOCH_US + intended[i],
                start_us=STATS_EPOCH_US + start_us[i],
                connect_us=0,
                wait_us=total_us[i] // 2,
                total_us=total_us[i],
                status=statuses[i],
                failure=failures[i],
                bytes_read=200,
                body_bytes=32,
                bytes_sent=150,
                keepalive=True,
                records=records if failures[i] is Failure.NONE else 0,
            )
        )
    ended = max((STATS_EPOCH_US + s + t for s, t in zip(start_us, total_us, strict=True)), default=STATS_EPOCH_US)
    fields: dict[str, object] = {
        "url": "http://127.0.0.1:5001/score",
        "host": "127.0.0.1",
        "port": 5001,
        "path": "/score",
        "method": "POST",
        "concurrency": concurrency,
        "started_us": STATS_EPOCH_US + min(start_us, default=0),
        "ended_us": ended,
        "rate": rate,
        "arrivals": "closed" if rate is None else "constant",
    }
    fields.update(info)
    run = RunInfo(**fields)  # type: ignore[arg-type]
    return run, log


@pytest.fixture
def stats_synthetic_run() -> StatsRunFactory:
    """Factory: ``stats_synthetic_run([latency µs, ...], start_us=..., status=..., rate=...)``."""
    return _stats_synthetic_run


# --- target_ / engine_: a real loopback target and the real engine in a child process ----------------------

ENGINE_TARGETS = Path(__file__).parent / "fixtures" / "targets"


@contextlib.contextmanager
def _target() -> Iterator[str]:
    """A fresh keep-alive loopback target (fixtures/targets/ka_server.py) of its own; its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ENGINE_TARGETS / "ka_server.py"), str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "ready":
            pytest.fail("the loopback target did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.fixture(scope="module")
def target_url() -> Iterator[str]:
    """Base URL (no trailing slash) of a fresh keep-alive loopback target (fixtures/targets/ka_server.py)."""
    with _target() as url:
        yield url


@pytest.fixture
def target_stall_url() -> Iterator[str]:
    """A target of its own whose 50th /stall request stalls the whole server for 1 s."""
    with _target() as url:
        yield url


@pytest.fixture
def target_refused_url() -> str:
    """A loopback URL nobody listens on (connections are refused)."""
    return f"http://127.0.0.1:{free_port()}/"


def _target_counts(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base_url}/count", timeout=10) as response:
        counts: dict[str, int] = json.loads(response.read())
    return counts


@pytest.fixture
def target_counts() -> Callable[[str], dict[str, int]]:
    """``target_counts(base_url)``: the target's own count of answered requests and accepted connections."""
    return _target_counts


def _engine_run(plan: object, *, timeout: float = 300) -> tuple[RunInfo, SampleLog]:
    """Run ``plan`` with the real engine in a child process (Locust patches the process it runs in)."""
    with tempfile.TemporaryDirectory() as tmp:
        plan_path, out_path = Path(tmp) / "plan.pickle", Path(tmp) / "out.pickle"
        plan_path.write_bytes(pickle.dumps(plan))
        proc = subprocess.run(
            [sys.executable, "-m", "bankscore_bench.engine._child", str(plan_path), str(out_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        info, columns = pickle.loads(out_path.read_bytes())
    return info, SampleLog.from_columns(columns)


@pytest.fixture
def engine_run() -> Callable[..., tuple[RunInfo, SampleLog]]:
    """``engine_run(LoadPlan(...))`` -> ``(RunInfo, SampleLog)`` from the real engine in a child process."""
    return _engine_run


# --- ab_: real ApacheBench captures and a loopback target for the real `ab` --------------------------------

AB_FIXTURES = Path(__file__).parent / "fixtures" / "ab"


@pytest.fixture(scope="session")
def ab_fixtures() -> Path:
    """Folder of verbatim ab 2.3 captures (how they were made: fixtures/ab/README.md)."""
    return AB_FIXTURES


@pytest.fixture(scope="module")
def ab_server_url(target_url: str) -> str:
    """Base URL (no trailing slash) of the keep-alive loopback target (fixtures/targets/ka_server.py)."""
    return target_url


_ENGINE_WORKERS_CHILD = """
import pickle, sys
from pathlib import Path
from bankscore_bench.engine._distributed import _local
plan = pickle.loads(Path(sys.argv[1]).read_bytes())
info, log, by_worker = _local(plan, int(sys.argv[3]), None)
columns = {worker: rows.to_columns() for worker, rows in by_worker.items()}
Path(sys.argv[2]).write_bytes(pickle.dumps((info, log.to_columns(), columns)))
"""


def _engine_run_workers(plan: object, workers: int) -> tuple[RunInfo, SampleLog, dict[str, SampleLog]]:
    """Run ``plan`` on a master and ``workers`` local worker processes (all children of the test)."""
    with tempfile.TemporaryDirectory() as tmp:
        plan_path, out_path = Path(tmp) / "plan.pickle", Path(tmp) / "out.pickle"
        plan_path.write_bytes(pickle.dumps(plan))
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _ENGINE_WORKERS_CHILD, str(plan_path), str(out_path), str(workers)],
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # what the master and its workers said is the only clue
            said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
            pytest.fail(f"the distributed run took over 300 s; its stderr:\n{said}")
        assert proc.returncode == 0, proc.stderr
        info, merged, by_worker = pickle.loads(out_path.read_bytes())
    logs = {worker: SampleLog.from_columns(columns) for worker, columns in by_worker.items()}
    return info, SampleLog.from_columns(merged), logs


@pytest.fixture
def engine_run_workers() -> Callable[..., tuple[RunInfo, SampleLog, dict[str, SampleLog]]]:
    """``engine_run_workers(plan, workers)`` -> merged ``(RunInfo, SampleLog)`` and each worker's own rows."""
    return _engine_run_workers
