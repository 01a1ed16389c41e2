"""Distributed runs: shares add up to -n, rows are shipped once each, the merge equals the union of workers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bankscore_bench._samples import Failure, RequestSample, RunInfo, SampleLog
from bankscore_bench._stats import summarize
from bankscore_bench.engine import LoadPlan
from bankscore_bench.engine._distributed import RowShipper, _await_workers, merge_run_infos, split_shares

WorkersRun = Callable[..., tuple[RunInfo, SampleLog, dict[str, SampleLog]]]
Counts = Callable[[str], dict[str, int]]


def _rows(log: SampleLog) -> list[RequestSample]:
    return sorted(log, key=lambda s: (s.start_us, s.total_us, s.connect_us, s.wait_us))


def _sample(rng: random.Random) -> RequestSample:
    start = 1_800_000_000_000_000 + rng.randrange(10**8)
    return RequestSample(start, start, rng.randrange(300), rng.randrange(9000), rng.randrange(9000, 90000), 200)


def test_shares_add_up_to_exactly_n() -> None:
    plan = LoadPlan(url="http://127.0.0.1:1/", requests=1001, concurrency=8)
    shares = split_shares(plan, 3)
    assert [s.requests for s in shares] == [334, 334, 333]
    assert len({s.seed for s in shares}) == 3  # each worker its own schedule

    open_loop = LoadPlan(url="http://127.0.0.1:1/", requests=100, rate=300.0, arrivals="poisson", seed=5)
    assert [s.rate for s in split_shares(open_loop, 3)] == [100.0, 100.0, 100.0]


def test_a_bad_split_names_the_values() -> None:
    with pytest.raises(ValueError, match=r"concurrency \(-c\) 2 must be at least --workers 4"):
        split_shares(LoadPlan(url="http://127.0.0.1:1/", requests=10, concurrency=2), 4)


def test_shipping_in_chunks_loses_and_repeats_nothing() -> None:
    rng = random.Random(1)
    log = SampleLog()
    shipper = RowShipper(log)
    received = SampleLog()
    for _ in range(25):  # rows arrive between shipments, as requests complete between worker reports
        for _ in range(rng.randrange(0, 40)):
            log.append(_sample(rng))
        received.extend(SampleLog.from_columns(shipper.next_chunk()))
    received.extend(SampleLog.from_columns(shipper.next_chunk()))
    assert list(received) == list(log)
    assert len(SampleLog.from_columns(shipper.next_chunk())) == 0


def test_shares_go_only_to_workers_that_said_they_listen_for_them() -> None:
    # Locust counts a worker ready while it is still being created, before it listens for its share: a share
    # sent then is dropped ("Unknown message type"), and that worker's users never get a run.
    import gevent
    import gevent.event

    runner = SimpleNamespace(clients=SimpleNamespace(ready=[SimpleNamespace(id="w2"), SimpleNamespace(id="w1")]))
    said_ready: list[str] = []

    def say_ready_later() -> None:
        gevent.sleep(0.2)
        said_ready.append("w2")
        gevent.sleep(0.2)
        said_ready.append("w1")

    started = time.monotonic()
    gevent.spawn(say_ready_later)
    assert _await_workers(runner, 2, 10, gevent.event.Event(), said_ready) == ["w1", "w2"]
    assert time.monotonic() - started >= 0.4  # not before both said so

    said_ready[:] = ["w1", "w3"]  # w3 said it listens, but Locust does not count it ready
    with pytest.raises(OSError, match="only 1 of --workers 2 connected to the master"):
        _await_workers(runner, 2, 0.3, gevent.event.Event(), said_ready)


def test_merged_run_info_sums_the_workers_counters() -> None:
    plan = LoadPlan(url="http://127.0.0.1:9/score", requests=10, concurrency=4, rate=50.0)
    base = {"url": plan.url, "host": "127.0.0.1", "port": 9, "path": "/score", "method": "GET", "concurrency": 2}
    infos = [
        RunInfo(**base, started_us=0, ended_us=1, late=3, dropped=1, write_errors=2, generator_cpu_percent=40.0),
        RunInfo(**base, started_us=0, ended_us=1, late=4, server_software="nginx", document_length=7,
                generator_cpu_percent=95.0, extra={"generator_saturated": "yes", "warning": "busy"}),
    ]  # fmt: skip
    log = SampleLog.of(_sample(random.Random(2)) for _ in range(10))
    merged = merge_run_infos(plan, infos, log)
    assert (merged.late, merged.dropped, merged.write_errors) == (7, 1, 2)
    assert merged.server_software == "nginx" and merged.document_length == 7
    assert merged.generator_cpu_percent == 95.0 and merged.extra["generator_saturated"] == "yes"
    assert merged.concurrency == 4
    assert merged.started_us == min(log.start_us)
    assert not merged.interrupted


@pytest.mark.slow
def test_workers_send_exactly_n_and_the_merge_is_the_union(
    engine_run_workers: WorkersRun, target_url: str, target_counts: Counts
) -> None:
    before = target_counts(target_url)
    plan = LoadPlan(url=f"{target_url}/", requests=1201, concurrency=4, keepalive=True)
    info, merged, by_worker = engine_run_workers(plan, 2)
    after = target_counts(target_url)
    assert len(merged) == 1201
    assert after["requests"] - before["requests"] == 1201 + 1  # + the /count request
    assert len(by_worker) == 2 and sorted(len(log) for log in by_worker.values()) == [600, 601]
    assert set(merged.failure) == {Failure.NONE}
    assert not info.interrupted
    assert info.extra["workers"] == "2"
    assert info.extra["locust_requests"] == "1201"

    union = SampleLog()
    for log in reversed(list(by_worker.values())):  # another order than the master's
        union.extend(log)
    assert _rows(merged) == _rows(union)
    merged_latency, union_latency = summarize(info, merged).latency, summarize(info, union).latency
    assert merged_latency is not None and union_latency is not None
    assert merged_latency.percentiles_us == union_latency.percentiles_us  # exact: no rounding on the way
    assert (merged_latency.count, merged_latency.min_us, merged_latency.max_us) == (
        union_latency.count,
        union_latency.min_us,
        union_latency.max_us,
    )
    ordered = sorted(union.total_us)
    assert merged_latency.percentiles_us["p50"] in set(ordered)  # a real sample, not a bucket


@pytest.mark.slow
def test_workers_split_an_open_loop_rate(engine_run_workers: WorkersRun, target_url: str) -> None:
    plan = LoadPlan(url=f"{target_url}/", requests=200, rate=200.0, concurrency=4, keepalive=True, arrivals="poisson")
    info, merged, by_worker = engine_run_workers(plan, 2)
    assert len(merged) == 200
    assert info.rate == 200.0 and info.arrivals == "poisson"
    assert all(len(log) == 100 for log in by_worker.values())


@pytest.mark.slow
def test_a_time_limited_distributed_run_keeps_every_recorded_row(
    engine_run_workers: WorkersRun, target_url: str
) -> None:
    # Longer than Locust's 3 s between a worker's reports, which reset the worker's own Locust totals.
    plan = LoadPlan(url=f"{target_url}/", requests=10**7, concurrency=4, keepalive=True, time_limit_s=3.5)
    info, merged, by_worker = engine_run_workers(plan, 2)
    assert info.interrupted
    assert info.extra["stopped_by"] == "time limit"
    assert 0 < len(merged) < 10**7
    assert len(merged) == sum(len(log) for log in by_worker.values())
    assert info.extra["locust_requests"] == str(len(merged))  # the workers' Locust stats saw the same rows


# --- a master killed with kill -9: its key must not stay in /tmp, nor its workers live on ---------------------------

_KEY = "bench-test-secret-4f1c9e"
_MASTER = """
import os, sys
from bankscore_bench._payloads import bank_marketing_payloads
from bankscore_bench.engine import LoadPlan
from bankscore_bench.engine._distributed import _local
# Bodies far over a pipe's 64 KiB, so the plan's trip through each worker's stdin is exercised too.
payloads = bank_marketing_payloads("C", batch_size=100, pool_size=100)
plan = LoadPlan(url=sys.argv[1], method="POST", payloads=payloads, requests=10**7, concurrency=2, keepalive=True,
                time_limit_s=300, headers=(("Authorization", "Bearer " + os.environ["BENCH_TEST_KEY"]),))
_local(plan, 2, None)
"""


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc: no psutil needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _files_holding(folder: Path, secret: bytes) -> list[Path]:
    return [f for f in folder.rglob("*") if f.is_file() and secret in f.read_bytes()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_killed_master_leaves_no_key_behind_and_takes_its_workers_along(
    target_url: str, target_counts: Counts, tmp_path: Path
) -> None:
    tmp = tmp_path / "tmp"  # the master's TMPDIR: where tempfile would put a plan file
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "BENCH_TEST_KEY": _KEY}
    with (tmp_path / "master.log").open("wb") as log:
        master = subprocess.Popen(
            [sys.executable, "-c", _MASTER, f"{target_url}/score"], env=env, stdout=log, stderr=log
        )
    workers: list[int] = []
    try:
        before = target_counts(target_url)["requests"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until both workers run their share of the load
            workers = _children(master.pid)
            if len(workers) == 2 and target_counts(target_url)["requests"] > before + 50:
                break
            assert master.poll() is None, (tmp_path / "master.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail(f"the workers did not start sending: {(tmp_path / 'master.log').read_text()}")
        while_running = _files_holding(tmp, _KEY.encode())  # the key goes through a pipe, not a file

        master.send_signal(signal.SIGKILL)
        master.wait()
        deadline = time.monotonic() + 20  # generous: Locust alone keeps them for 60 s
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        outlived = [w for w in workers if _alive(w)]
        assert (while_running, outlived, list(tmp.iterdir())) == ([], [], [])
    finally:
        master.kill()
        master.wait()
        for worker in workers:  # only if the test failed: the master's own children, by pid
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)


# --- a worker killed mid-run: the master ends the run with the rows it has, instead of waiting an hour -----------

_MASTER_REPORTING = """
import json, sys
from bankscore_bench.engine import LoadPlan
from bankscore_bench.engine._distributed import _local
plan = LoadPlan(url=sys.argv[1], requests=10**7, concurrency=2, keepalive=True)  # no time limit: the 1-hour cap
info, log, by_worker = _local(plan, 2, None)
print(json.dumps({"interrupted": info.interrupted, "extra": info.extra, "rows": len(log),
                  "by_worker": sorted(len(rows) for rows in by_worker.values())}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_a_killed_worker_ends_the_run_with_the_rows_already_shipped(
    target_url: str, target_counts: Counts, tmp_path: Path
) -> None:
    err = tmp_path / "master.err"
    with err.open("wb") as log:
        master = subprocess.Popen(
            [sys.executable, "-c", _MASTER_REPORTING, f"{target_url}/"], stdout=subprocess.PIPE, stderr=log
        )
    workers: list[int] = []
    try:
        workers = _two_sending_workers(master, target_url, target_counts, err)
        time.sleep(3.5)  # a worker's 3-second report has had time to ship rows
        os.kill(workers[0], signal.SIGKILL)
        out, _ = master.communicate(timeout=60)  # the survivor is stopped at once, not after the 1-hour cap
    finally:
        master.kill()
        master.wait()
        if master.stdout is not None:
            master.stdout.close()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
    assert master.returncode == 0, err.read_text()
    result = json.loads(out)
    assert result["interrupted"] is True
    assert result["extra"]["stopped_by"] == "lost worker"
    assert "worker process exited" in result["extra"]["warning"]
    # Both had shipped rows in their 3-second reports before the kill; the merge holds exactly those.
    assert len(result["by_worker"]) == 2 and min(result["by_worker"]) > 0
    assert result["rows"] == sum(result["by_worker"])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_the_cli_reports_a_lost_worker_and_exits_1(target_url: str, target_counts: Counts, tmp_path: Path) -> None:
    out, err = tmp_path / "run.json", tmp_path / "bench.err"
    with err.open("wb") as log:
        bench = subprocess.Popen(
            [sys.executable, "-m", "bankscore_bench", "-q", "-n", "10000000", "-c", "2", "-k", "--workers", "2",
             "--json", str(out), f"{target_url}/"],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
    workers: list[int] = []
    try:
        workers = _two_sending_workers(bench, target_url, target_counts, err)
        os.kill(workers[0], signal.SIGKILL)
        stdout, _ = bench.communicate(timeout=60)
    finally:
        bench.kill()
        bench.communicate()
        for worker in workers:
            if _alive(worker):
                os.kill(worker, signal.SIGKILL)
    stderr = err.read_text()
    assert bench.returncode == 1, stderr
    assert "bankscore-bench: the run ended early: a local worker process exited" in stderr
    assert "Complete requests" in stdout  # the report of what ran is still printed
    report = json.loads(out.read_text())
    assert report["run"]["extra"]["stopped_by"] == "lost worker"
    assert 0 < report["summary"]["requests"] < 10_000_000


def _two_sending_workers(master: subprocess.Popen[Any], target_url: str, target_counts: Counts, err: Path) -> list[int]:
    """The pids of ``master``'s two local workers, once 2,000 requests have reached the target since the call."""
    before = target_counts(target_url)["requests"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = _children(master.pid)
        if len(workers) == 2 and target_counts(target_url)["requests"] > before + 2000:
            return workers
        assert master.poll() is None, err.read_text()
        time.sleep(0.2)
    pytest.fail(f"the workers did not start sending: {err.read_text()}")
