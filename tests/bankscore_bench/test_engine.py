"""The load engine against a real loopback target: counts, connections, failures, limits, open loop.

Every run uses the real engine (Locust + gevent) in a child process (``engine_run``), because Locust
gevent-patches the process it is imported in. The target is fixtures/targets/ka_server.py.
"""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import socket
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bankscore_bench._payloads import PayloadPool, ScoringChecker, fixed_payload
from bankscore_bench._samples import Failure, RunInfo, SampleLog
from bankscore_bench.engine import LoadPlan, arrival_offsets, users_for_rate

EngineRun = Callable[..., tuple[RunInfo, SampleLog]]
Counts = Callable[[str], dict[str, int]]
CountedRun = Callable[..., tuple[RunInfo, SampleLog, dict[str, int]]]


# The closed loop runs on the epoll core by default; the greenlet core (open loop, https) must agree with it.
BOTH_CORES = pytest.mark.parametrize("core", ["mux", "greenlet"])


@pytest.fixture
def counted_run(engine_run: EngineRun, target_url: str, target_counts: Counts) -> CountedRun:
    """``counted_run(**plan)``: the engine's run of ``LoadPlan(url=<the target>/, **plan)``, and what the target
    counted meanwhile: its ``requests`` and ``connections``, the /count request itself included."""

    def run(**plan: Any) -> tuple[RunInfo, SampleLog, dict[str, int]]:
        before = target_counts(target_url)
        info, log = engine_run(LoadPlan(url=f"{target_url}/", **plan))
        after = target_counts(target_url)
        return info, log, {name: after[name] - before[name] for name in after}

    return run


def _p99(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[len(ordered) * 99 // 100]  # ab's rank rule: 0-based floor(n * p)


# --- the plan ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "kwargs", "named"),
    [
        ("requests", {"requests": 0}, "requests (-n) must be at least 1, got 0"),
        ("concurrency", {"concurrency": 0}, "concurrency (-c) must be at least 1, got 0"),
        ("concurrency", {"requests": 5, "concurrency": 9}, "concurrency (-c) 9 cannot exceed requests (-n) 5"),
        ("rate", {"rate": -3.0}, "rate must be a positive number of requests/s, got -3.0"),
        ("arrivals", {"rate": 10.0, "arrivals": "bursty"}, "arrivals must be one of constant, poisson, got 'bursty'"),
        ("method", {"method": "GET /"}, "method must be an HTTP method name such as GET, HEAD, POST, PUT, got 'GET /'"),
        ("time_limit_s", {"time_limit_s": 0.0}, "time_limit_s must be a positive number of seconds, got 0.0"),
    ],
)
def test_a_bad_plan_names_the_field_and_the_value(field: str, kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match="^" + named.replace("(", r"\(").replace(")", r"\)")):
        LoadPlan(url="http://127.0.0.1:1/", **kwargs)  # type: ignore[arg-type]


def test_a_bad_url_is_named() -> None:
    with pytest.raises(ValueError, match="url must be http://host"):
        LoadPlan(url="ftp://127.0.0.1/x")


def test_open_loop_users_default_to_the_rate_times_one_second() -> None:
    assert LoadPlan(url="http://127.0.0.1:1/", requests=10, rate=250.0).users == 250
    assert users_for_rate(0.5) == 1
    assert users_for_rate(10**6) == 1000
    assert LoadPlan(url="http://127.0.0.1:1/", requests=10).users == 1  # ab's -c default


def test_poisson_schedule_is_reproducible_with_a_seed() -> None:
    first = arrival_offsets(100.0, "poisson", 2000, seed=7)
    assert first == arrival_offsets(100.0, "poisson", 2000, seed=7)
    assert first != arrival_offsets(100.0, "poisson", 2000, seed=8)
    gaps = [b - a for a, b in itertools.pairwise(first)]
    assert 0.009 < sum(gaps) / len(gaps) < 0.011  # mean gap 1/rate
    assert len(set(gaps)) == len(gaps)  # exponential, not constant
    assert arrival_offsets(50.0, "constant", 3) == [0.0, 0.02, 0.04]


# --- closed loop: ab's -n / -c / -k ----------------------------------------------------------------------------


@BOTH_CORES
def test_exactly_n_requests_are_sent_and_recorded(counted_run: CountedRun, core: str) -> None:
    info, log, counted = counted_run(core=core, requests=503, concurrency=7, keepalive=True)
    assert len(log) == 503
    assert "stopped_by" not in info.extra
    assert counted["requests"] == 503 + 1  # + the /count request itself
    assert not info.interrupted
    assert info.concurrency == 7
    assert set(log.status) == {200}
    assert set(log.failure) == {Failure.NONE}
    assert info.extra["locust_requests"] == "503"  # Locust's own statistics saw the same requests
    assert info.extra["locust_failures"] == "0"
    assert info.server_software == "KaTarget/1.0"  # "KaTarget/1.0 Python/3.11.x" cut at the space, as ab
    assert info.document_length == 16
    assert info.started_us == min(log.start_us)
    assert info.ended_us == max(s + t for s, t in zip(log.start_us, log.total_us, strict=True))


@BOTH_CORES
def test_keepalive_reuses_one_connection_per_user(counted_run: CountedRun, core: str) -> None:
    _, log, counted = counted_run(core=core, requests=200, concurrency=4, keepalive=True)
    assert counted["connections"] == 4 + 1  # 4 users + the /count request
    assert sum(1 for c in log.connect_us if c > 0) == 4  # connect time only on each connection's first request
    assert all(log.keepalive)
    sample = log[0]
    assert sample.body_bytes == 16
    assert sample.bytes_read > sample.body_bytes  # headers counted, as ab's Total transferred
    assert 0 <= sample.wait_us <= sample.total_us


@BOTH_CORES
def test_without_keepalive_every_request_connects(counted_run: CountedRun, core: str) -> None:
    _, log, counted = counted_run(core=core, requests=120, concurrency=3)
    assert counted["connections"] == 120 + 1
    assert all(c > 0 for c in log.connect_us)
    assert not any(log.keepalive)


def test_404s_are_non_2xx_not_failures(engine_run: EngineRun, target_url: str) -> None:
    info, log = engine_run(LoadPlan(url=f"{target_url}/missing", requests=50, concurrency=2, keepalive=True))
    assert set(log.status) == {404}
    assert set(log.failure) == {Failure.NONE}
    assert info.extra["locust_failures"] == "50"  # Locust, like FastHttpUser, counts them as failures


@BOTH_CORES
def test_refused_connections_are_connect_failures(engine_run: EngineRun, target_refused_url: str, core: str) -> None:
    info, log = engine_run(LoadPlan(core=core, url=target_refused_url, requests=20, concurrency=2))
    assert len(log) == 20
    assert set(log.failure) == {Failure.CONNECT}
    assert set(log.status) == {0}
    assert info.server_software == ""
    assert info.document_length is None


@BOTH_CORES
def test_connects_that_never_complete_time_out_as_connect_failures(engine_run: EngineRun, core: str) -> None:
    """A listener whose accept queue is full drops new SYNs: the engine's connect must give up at -s."""
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # room for one unaccepted connection
        filler.connect(listener.getsockname())  # ...now taken: further SYNs are dropped, connects hang
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        info, log = engine_run(LoadPlan(core=core, url=url, requests=2, concurrency=1, timeout_s=0.3, max_time_s=20.0))
    finally:
        filler.close()
        listener.close()
    assert not info.interrupted  # each connect gave up by itself, the run was not cut by max_time_s
    assert list(log.failure) == [Failure.CONNECT, Failure.CONNECT]
    assert set(log.status) == {0}


def test_body_length_changes_are_length_failures_unless_variable(engine_run: EngineRun, target_url: str) -> None:
    info, log = engine_run(LoadPlan(url=f"{target_url}/var", requests=100, concurrency=2, keepalive=True))
    first = info.document_length
    assert first is not None
    lengths = list(log.body_bytes)
    failures = list(log.failure)
    assert all((f == Failure.LENGTH) == (n != first) for f, n in zip(failures, lengths, strict=True))
    assert Failure.LENGTH in failures  # 10-20 random bytes: 100 requests of one length cannot happen by chance

    info, log = engine_run(
        LoadPlan(url=f"{target_url}/var", requests=100, concurrency=2, keepalive=True, accept_variable_length=True)
    )
    assert set(log.failure) == {Failure.NONE}
    assert info.document_length is None  # ab's "Variable"


@BOTH_CORES
def test_posted_bodies_are_counted_and_bad_bodies_fail(
    engine_run: EngineRun, target_url: str, tmp_path: Path, core: str
) -> None:
    body_file = tmp_path / "post.json"
    body_file.write_bytes(b'{"features": [1, 2, 3]}')
    pool = fixed_payload(body_file, "application/json")
    _, log = engine_run(
        LoadPlan(core=core, url=f"{target_url}/score", method="POST", payloads=pool, requests=30, keepalive=True)
    )
    assert set(log.failure) == {Failure.NONE}
    request_head = len(b"POST /score HTTP/1.1\r\n")
    assert all(sent > request_head + len(body_file.read_bytes()) for sent in log.bytes_sent)
    assert set(log.body_bytes) == {len(b'{"received": 23}')}  # the target saw every byte of the body

    # The echo target's answer is not a scoring result: with a scoring checker every 2xx is a BAD_BODY.
    plan = LoadPlan(
        core=core,
        url=f"{target_url}/score",
        method="POST",
        payloads=PayloadPool(pool.payloads, "application/json"),
        requests=30,
        keepalive=True,
        checker=ScoringChecker("predict"),
    )
    info, log = engine_run(plan)
    assert set(log.failure) == {Failure.BAD_BODY}
    assert set(log.status) == {200}
    assert info.extra["locust_failures"] == "30"


@BOTH_CORES
def test_answers_that_never_come_time_out_as_receive_failures(engine_run: EngineRun, core: str) -> None:
    """The kernel completes the connects (the listener has room), but nobody ever answers: each read gives up."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        info, log = engine_run(
            LoadPlan(core=core, url=url, requests=3, concurrency=1, timeout_s=0.3, keepalive=True, max_time_s=20.0)
        )
    finally:
        listener.close()
    assert not info.interrupted
    assert list(log.failure) == [Failure.RECEIVE] * 3
    assert all(250_000 <= total <= 5_000_000 for total in log.total_us)  # each waited about -s, not forever


class _ClosesAfterEachAnswer:
    """A keep-alive server that answers one request per connection, says nothing, and closes the connection.

    A client that reuses the connection meets a reset or an end of file before any byte of the answer: ab
    then sends the request again on a new connection, and so must both cores (no failure is counted).
    """

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

    def __init__(self) -> None:
        import threading

        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    conn.sendall(self.ANSWER)

    def close(self) -> None:
        self.listener.close()


@BOTH_CORES
def test_a_kept_alive_connection_the_server_closed_is_reopened_once(engine_run: EngineRun, core: str) -> None:
    server = _ClosesAfterEachAnswer()
    try:
        _, log = engine_run(
            LoadPlan(core=core, url=f"http://127.0.0.1:{server.port}/", requests=40, concurrency=1, keepalive=True)
        )
    finally:
        server.close()
    assert len(log) == 40
    assert set(log.failure) == {Failure.NONE}
    assert set(log.status) == {200}
    assert server.connections == 40  # one per request: every reuse failed and was sent again once
    assert all(c > 0 for c in log.connect_us)  # each request's time includes the connect it needed


@BOTH_CORES
def test_an_answer_cut_off_by_the_server_is_a_failed_request(engine_run: EngineRun, target_url: str, core: str) -> None:
    info, log = engine_run(LoadPlan(core=core, url=f"{target_url}/cut", requests=5, concurrency=1, keepalive=True))
    assert not info.interrupted
    assert len(log) == 5  # each one counted, and the run went on
    assert set(log.failure) == {Failure.EXCEPTION}


@BOTH_CORES
def test_bodies_larger_than_the_socket_buffer_are_sent_whole(
    engine_run: EngineRun, target_url: str, tmp_path: Path, core: str
) -> None:
    body = b'{"pad": "' + b"x" * (4 * 1024 * 1024) + b'"}'  # far beyond one send()
    body_file = tmp_path / "big.json"
    body_file.write_bytes(body)
    pool = fixed_payload(body_file, "application/json")
    info, log = engine_run(
        LoadPlan(
            core=core,
            url=f"{target_url}/score",
            method="POST",
            payloads=pool,
            requests=6,
            concurrency=2,
            keepalive=True,
        )
    )
    assert set(log.failure) == {Failure.NONE}
    assert info.write_errors == 0
    assert set(log.body_bytes) == {len(b'{"received": %d}' % len(body))}  # the target read every byte


def test_the_epoll_core_is_refused_where_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="core 'mux' runs only the closed loop over plain http"):
        LoadPlan(url="http://127.0.0.1:1/", requests=10, rate=5.0, core="mux")
    with pytest.raises(ValueError, match="core 'mux' runs only the closed loop over plain http"):
        LoadPlan(url="https://127.0.0.1:1/", requests=10, core="mux")
    with pytest.raises(ValueError, match="core must be one of auto, mux, greenlet, got 'fast'"):
        LoadPlan(url="http://127.0.0.1:1/", core="fast")


@BOTH_CORES
def test_warmup_requests_are_sent_but_not_recorded(counted_run: CountedRun, core: str) -> None:
    _, log, counted = counted_run(core=core, requests=40, concurrency=2, keepalive=True, warmup=15)
    assert len(log) == 40
    assert counted["requests"] == 40 + 15 + 1


@pytest.mark.parametrize(
    ("path", "method", "kept_alive"),
    [("/chunked", "GET", True), ("/eof", "GET", False), ("/", "HEAD", True)],
)
@BOTH_CORES
def test_responses_without_a_content_length_are_read_by_llhttp(
    engine_run: EngineRun, target_url: str, path: str, method: str, kept_alive: bool, core: str
) -> None:
    info, log = engine_run(
        LoadPlan(core=core, url=f"{target_url}{path}", method=method, requests=30, concurrency=2, keepalive=True)
    )
    assert set(log.failure) == {Failure.NONE}
    assert set(log.status) == {200}
    assert set(log.body_bytes) == {0 if method == "HEAD" else 16}
    assert all(log.keepalive) is kept_alive
    assert (sum(1 for c in log.connect_us if c > 0) == 2) is kept_alive  # reconnects when the server closes
    assert info.server_software == "KaTarget/1.0"


def test_the_content_length_fast_path_frames_only_what_it_should() -> None:
    from bankscore_bench.engine._http import framed_length, keeps_alive

    head = b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 16"
    assert framed_length(head, "GET") == len(head) + 4 + 16
    assert framed_length(head.replace(b"Content-Length", b"content-LENGTH"), "GET") == len(head) + 4 + 16
    assert framed_length(head, "HEAD") == -1  # no body whatever the length says
    assert framed_length(head + b"\r\nContent-Length: 16", "GET") == -1  # two lengths: llhttp judges
    assert framed_length(head + b"\r\nTransfer-Encoding: chunked", "GET") == -1
    assert framed_length(b"HTTP/1.1 204 No Content\r\nContent-Length: 0", "GET") == -1
    assert framed_length(b"HTTP/1.1 200 OK\r\nServer: x", "GET") == -1  # read until the server closes
    assert framed_length(b"garbage", "GET") == -1
    assert keeps_alive(b"HTTP/1.1 200 OK\r\nContent-Length: 1")
    assert not keeps_alive(b"HTTP/1.1 200 OK\r\nConnection: close")
    assert not keeps_alive(b"HTTP/1.0 200 OK\r\nContent-Length: 1")
    assert keeps_alive(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive")


def test_verbose_dumps_have_abs_lines(ab_fixtures: Path) -> None:
    """ab -v 2's request and response dumps, byte for byte (raw CRLFs included)."""
    from bankscore_bench.engine._verbose import request_dump, response_dump

    capture = (ab_fixtures / "11-request-dump-v2.stdout.txt").read_bytes().decode("latin-1")
    start = capture.index("INFO: POST header")
    expected = capture[start : capture.index("..done", start)]
    request_head, response_head = expected.split("---\nLOG: header received:\n")
    request = request_head.removeprefix("INFO: POST header == \n---\n").removesuffix("\r\n\r\n\n")
    response = response_head.removesuffix("\r\n\r\n\n")
    dumped = request_dump("POST", request.encode() + b"\r\n\r\n{}") + response_dump(response.encode(), b"")
    assert dumped == expected.replace("X-Api-Key: demo", "X-Api-Key: <redacted>")  # keys never in output
    assert response_dump(b"HTTP/1.1 401 Unauthorized", b"no").endswith("Unauthorized\r\n\r\nno\n")


# --- stopping --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("time_limit_s", "max_time_s", "stopped_by"), [(1.0, 3600.0, "time limit"), (None, 1.0, "max time")]
)
def test_the_time_limit_and_max_time_end_the_run(
    engine_run: EngineRun, target_url: str, time_limit_s: float | None, max_time_s: float, stopped_by: str
) -> None:
    """ab's -t, and bankscore's cap on every run (--max-time), whatever -n says."""
    plan = LoadPlan(
        url=f"{target_url}/",
        requests=10**7,
        concurrency=2,
        keepalive=True,
        time_limit_s=time_limit_s,
        max_time_s=max_time_s,
    )
    info, log = engine_run(plan)
    assert info.interrupted
    assert info.extra["stopped_by"] == stopped_by
    assert 0 < len(log) < 10**7
    if time_limit_s is not None:
        assert info.generator_cpu_percent is not None and info.generator_cpu_percent > 0  # measured over 1 s
        assert set(log.failure) == {Failure.NONE}  # requests cut off by the stop are not recorded as failures


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_recorded(target_url: str, tmp_path: Path) -> None:
    plan = LoadPlan(url=f"{target_url}/", requests=10**7, concurrency=2, keepalive=True, progress_every=200)
    plan_path, out_path = tmp_path / "plan.pickle", tmp_path / "out.pickle"
    plan_path.write_bytes(pickle.dumps(plan))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bankscore_bench.engine._child", str(plan_path), str(out_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().startswith("progress ")  # under way
        os.kill(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    info, columns = pickle.loads(out_path.read_bytes())
    log = SampleLog.from_columns(columns)
    assert info.interrupted
    assert info.extra["stopped_by"] == "ctrl-c"
    assert 200 <= len(log) < 10**7


# --- open loop ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stalled_server_shows_in_the_corrected_latency_only(engine_run: EngineRun, target_stall_url: str) -> None:
    # 400 requests at 100/s through one connection; the 50th stalls the server for 1.5 s. The scheduled
    # requests wait behind it: measured from their scheduled time (wrk2), over 1% of them took >= 1 s;
    # measured from when they were finally sent (what a closed-loop tool reports), only the stalled one did.
    plan = LoadPlan(
        url=f"{target_stall_url}/stall?at=50&for=1.5", requests=400, rate=100.0, concurrency=1, keepalive=True
    )
    info, log = engine_run(plan)
    assert len(log) == 400
    corrected = [sample.corrected_total_us for sample in log]
    uncorrected = list(log.total_us)
    assert _p99(corrected) >= 1_000_000
    assert _p99(uncorrected) < 1_000_000
    assert max(uncorrected) >= 1_500_000  # the stalled request itself
    assert info.late >= 50  # the requests scheduled during the stall started late
    assert info.dropped == 0
    assert info.rate == 100.0
    assert info.arrivals == "constant"


@pytest.mark.slow
def test_poisson_arrivals_follow_the_seeded_schedule(engine_run: EngineRun, target_url: str) -> None:
    def offsets(seed: int) -> list[int]:
        plan = LoadPlan(
            url=f"{target_url}/", requests=60, rate=200.0, arrivals="poisson", seed=seed, concurrency=4, keepalive=True
        )
        info, log = engine_run(plan)
        assert info.arrivals == "poisson"
        intended = sorted(log.intended_us)
        return [t - intended[0] for t in intended]

    schedule = [round(t * 1e6) for t in arrival_offsets(200.0, "poisson", 60, seed=3)]
    first, again = offsets(3), offsets(3)
    assert all(abs(a - b) <= 2 for a, b in zip(first, schedule, strict=True))
    assert all(abs(a - b) <= 2 for a, b in zip(again, schedule, strict=True))
    assert offsets(4) != first


class _FakeClock:
    """perf_counter_ns, gevent.sleep and gevent.idle for the schedule, on a clock that only moves when they do.

    ``sleep`` oversleeps by ``timer_late_ns`` as gevent's timers do (libev rounds its wait up to a whole
    millisecond); ``idle`` lets ``idle_ns`` pass. The queue's ``put`` records the clock when a ticket goes out.
    """

    def __init__(self, timer_late_ns: int, idle_ns: int = 5_000) -> None:
        self.now = 1_000_000_000
        self.timer_late_ns = timer_late_ns
        self.idle_ns = idle_ns
        self.put_at: list[tuple[int, int]] = []  # (due, clock when put)

    def perf_counter_ns(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += round(seconds * 1e9) + self.timer_late_ns

    def idle(self) -> None:
        self.now += self.idle_ns

    def put(self, ticket: tuple[int, int]) -> None:
        self.put_at.append((ticket[1], self.now))


@pytest.mark.parametrize(("rate", "precise"), [(100.0, True), (1000.0, False)])
def test_low_rates_start_each_request_on_time_not_on_the_timers_millisecond(
    rate: float, precise: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gevent's timers wake up to a millisecond late; up to PRECISE_RATE the schedule must not inherit that,
    and above it the timers' millisecond is accepted (as wrk2 does) rather than a spinning core."""
    import bankscore_bench.engine._tickets as tickets_module
    from bankscore_bench.engine import PRECISE_RATE

    assert (rate <= PRECISE_RATE) is precise
    clock = _FakeClock(timer_late_ns=900_000)
    monkeypatch.setattr(tickets_module.time, "perf_counter_ns", clock.perf_counter_ns)
    monkeypatch.setattr(tickets_module.gevent, "sleep", clock.sleep)
    monkeypatch.setattr(tickets_module.gevent, "idle", clock.idle)
    tickets = tickets_module.Tickets(LoadPlan(url="http://127.0.0.1:9/", requests=50, rate=rate))
    tickets.queue = types.SimpleNamespace(put=clock.put)  # gevent's queue, as far as the schedule uses it
    tickets.schedule()

    assert len(clock.put_at) == 50 and tickets.scheduled == 50
    late = [at - due for due, at in clock.put_at]
    assert min(late) >= 0  # never before its time
    if precise:
        assert max(late) <= clock.idle_ns  # within one idle turn of the loop, not the timer's 0.9 ms
    else:
        assert max(late) >= clock.timer_late_ns  # the timers' lateness, as documented
