"""How many requests/s can bankscore-bench's engine generate? Side by side with `ab -k` and plain Locust.

    python benchmarks/bench_capacity.py                       # nginx on loopback, -c 8, -n 20000, 3 rounds
    python benchmarks/bench_capacity.py -c 8 -n 50000 --rounds 5 --json
    python benchmarks/bench_capacity.py --url http://127.0.0.1:5001/score --post body.json -T application/json \\
        --no-keepalive -c 8 -n 2000          # a local deployment (azmlinfsrv closes every connection)

The default target is nginx answering a 16-byte body from memory on 127.0.0.1 (a target much faster than
any of the generators, so each number is the generator's own limit). In every round the generators run
one after another against the same target with the same users and the same request count, keep-alive on:

- `ab -k -c C -n N` (Apache Bench, C);
- plain Locust: a minimal `FastHttpUser` locustfile driven as a library, stopped at N requests;
- our engine (`bankscore_bench.engine.run_load`, full per-request recording), with its default core (the
  epoll loop for the closed loop over http) and with its greenlet core (a gevent socket per user);
- (GET only) a raw gevent loop: the same users writing a fixed request and reading one recv(), nothing parsed
  or recorded: a gevent socket per user with nothing else to do (Locust's model at its leanest).

Each runs in its own process (Locust patches the process it runs in). Requests/s is requests / time from the
first request to the last completion. Targets: engine >= 90% of plain Locust, >= 30% of ab -k.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import free_port, write_results

NGINX_CONF = """
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 10000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "hello bankscore\\n"; }}
    }}
}}
"""

# A plain Locust run, as a user would write it, stopped after exactly N responses by a request listener.
PLAIN_LOCUST = textwrap.dedent(
    """
    import sys, time
    import gevent
    from locust import FastHttpUser, task
    from locust.env import Environment

    url, users, total, post, ctype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    base, _, path = url.partition("://")[2].partition("/")
    body = open(post, "rb").read() if post else None

    class Plain(FastHttpUser):
        host = url.split("://")[0] + "://" + base

        @task
        def hit(self):
            if body is None:
                self.client.get("/" + path)
            else:
                self.client.post("/" + path, data=body, headers={"Content-Type": ctype})

    env = Environment(user_classes=[Plain])
    runner = env.create_local_runner()
    state = {"done": 0, "first": None, "last": None}
    finished = gevent.event.Event()

    def on_request(start_time, response_time, **kwargs):
        if state["first"] is None:
            state["first"] = start_time
        state["done"] += 1
        if state["done"] == total:
            state["last"] = time.time()
            finished.set()

    env.events.request.add_listener(on_request)
    runner.start(users, spawn_rate=users)
    finished.wait(timeout=600)
    runner.quit()
    print(total / (state["last"] - state["first"]))
    """
)


# A gevent socket per user at its leanest: the same users writing a fixed request and reading one recv()'s
# worth of answer, nothing parsed, timed or recorded (a GET only; it assumes the answer fits one recv()).
RAW_GEVENT = textwrap.dedent(
    """
    import sys, time
    import gevent, gevent.socket
    url, users, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    host, _, rest = url.partition("://")[2].partition(":")
    port, path = int(rest.split("/")[0]), "/" + rest.partition("/")[2]
    request = f"GET {path} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: keep-alive\\r\\n\\r\\n".encode()
    sent = [0]

    def user():
        sock = gevent.socket.create_connection((host, port))
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        while sent[0] < total:
            sent[0] += 1
            sock.sendall(request)
            sock.recv(65536)

    start = time.perf_counter()
    gevent.joinall([gevent.spawn(user) for _ in range(users)])
    print(total / (time.perf_counter() - start))
    """
)


# The engine with a gevent socket per user (the core the open loop and https use; the closed loop's before the
# epoll core), measured in the same rounds so the two cores compare side by side.
GREENLET_CORE = "engine, greenlet core"


def start_nginx(prefix: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, port=port))
    proc = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("nginx did not start")


def run_ab(url: str, users: int, total: int, post: str | None, ctype: str, keepalive: bool) -> float:
    args = ["ab", "-q", "-c", str(users), "-n", str(total), *(["-k"] if keepalive else [])]
    if post:
        args += ["-p", post, "-T", ctype]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests per second:\s+([\d.]+)", out)
    if match is None:
        raise SystemExit(f"ab printed no rate:\n{out}")
    return float(match.group(1))


def run_plain_locust(url: str, users: int, total: int, post: str | None, ctype: str, tmp: Path) -> float:
    script = tmp / "plain_locust.py"
    script.write_text(PLAIN_LOCUST)
    args = [sys.executable, str(script), url, str(users), str(total), post or "", ctype]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def run_raw_gevent(url: str, users: int, total: int, tmp: Path) -> float:
    script = tmp / "raw_gevent.py"
    script.write_text(RAW_GEVENT)
    out = subprocess.run(
        [sys.executable, str(script), url, str(users), str(total)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def run_engine(
    url: str, users: int, total: int, post: str | None, ctype: str, tmp: Path, keepalive: bool, core: str = "auto"
) -> tuple[float, float | None]:
    from bankscore_bench._payloads import fixed_payload
    from bankscore_bench.engine import LoadPlan

    payloads = fixed_payload(post, ctype) if post else None
    plan = LoadPlan(
        url=url,
        method="POST" if post else "GET",
        payloads=payloads,
        concurrency=users,
        requests=total,
        keepalive=keepalive,
        accept_variable_length=True,
        core=core,
    )
    plan_path, out_path = tmp / "plan.pickle", tmp / "out.pickle"
    plan_path.write_bytes(pickle.dumps(plan))
    subprocess.run(
        [sys.executable, "-m", "bankscore_bench.engine._child", str(plan_path), str(out_path)],
        capture_output=True,
        check=True,
    )
    info, columns = pickle.loads(out_path.read_bytes())  # noqa: S301 - written just now by our own child
    done = len(columns["total_us"]) // 8
    return done / info.time_taken_s, info.generator_cpu_percent


def print_table(summary: dict[str, Any], results: dict[str, list[float]], ab_name: str) -> None:
    medians = summary["median"]
    connections = "keep-alive" if summary["keepalive"] else "a connection per request"
    c, n, rounds = summary["concurrency"], summary["requests"], summary["rounds"]
    print(f"target: {summary['target']}; -c {c} -n {n}, {connections}, {rounds} rounds")
    for name, rates in results.items():
        print(f"  {name:<26} median {medians[name]:>9,.0f} req/s   rounds: {', '.join(f'{r:,.0f}' for r in rates)}")
    if summary["engine_vs_locust"] is not None:
        print(f"  engine / plain Locust FastHttpUser: {summary['engine_vs_locust']:.0%} (target >= 90%)")
    print(f"  engine / {ab_name + ':':<26}{summary['engine_vs_ab']:.0%}")
    if summary["engine_vs_raw_gevent"] is not None:
        print(f"  engine / raw gevent loop:           {summary['engine_vs_raw_gevent']:.0%}")
    print(f"  engine / its greenlet core:         {summary['epoll_core_vs_greenlet_core']:.0%}")
    print(f"  engine's own CPU use (median): {summary['engine_cpu_percent_median']}% of one core")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("-n", "--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="target instead of a local nginx (loopback only)")
    parser.add_argument("--post", help="POST this file's bytes (ab -p)")
    parser.add_argument("-T", "--content-type", default="application/json")
    parser.add_argument("--no-keepalive", action="store_true", help="ab and the engine without -k (no plain Locust)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).parent / "results" / "bench_capacity.json",
        help="where the raw results are written (date, machine, load average, every round)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.url and not re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])[:/]", args.url):
        raise SystemExit(f"--url must be a loopback URL, got {args.url!r}")

    keepalive = not args.no_keepalive
    ab_name = "ab -k" if keepalive else "ab"
    results: dict[str, list[float]] = {ab_name: [], "bankscore-bench engine": [], GREENLET_CORE: []}
    if keepalive:  # FastHttpUser always keeps connections alive: compared only with -k
        results["locust FastHttpUser"] = []
    if not args.post and keepalive:
        results["raw gevent loop"] = []
    cpu: list[float] = []
    greenlet_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        nginx = None
        url = args.url
        if url is None:
            nginx, url = start_nginx(tmp)
        try:
            c, n, post, ctype = args.concurrency, args.requests, args.post, args.content_type

            def engine(core: str, cpu_use: list[float]) -> Callable[[], float]:
                def run() -> float:
                    rate, percent = run_engine(url, c, n, post, ctype, tmp, keepalive, core=core)
                    if percent is not None:
                        cpu_use.append(percent)
                    return rate

                return run

            runners: dict[str, Callable[[], float]] = {
                ab_name: lambda: run_ab(url, c, n, post, ctype, keepalive),
                "locust FastHttpUser": lambda: run_plain_locust(url, c, n, post, ctype, tmp),
                "raw gevent loop": lambda: run_raw_gevent(url, c, n, tmp),
                "bankscore-bench engine": engine("auto", cpu),
                GREENLET_CORE: engine("greenlet", greenlet_cpu),
            }
            order = [name for name in runners if name in results]
            for round_number in range(args.rounds):
                # Every other round in reverse order: a target that drifts during the run favours no one.
                for name in order if round_number % 2 == 0 else reversed(order):
                    results[name].append(runners[name]())
        finally:
            if nginx is not None:
                nginx.terminate()
                nginx.wait()
    medians = {name: statistics.median(rates) for name, rates in results.items()}
    ours = medians["bankscore-bench engine"]
    summary = {
        "load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()],
        "target": args.url or "nginx 1 worker, 16-byte body, loopback",
        "concurrency": args.concurrency,
        "requests": args.requests,
        "rounds": args.rounds,
        "requests_per_second": {name: [round(r) for r in rates] for name, rates in results.items()},
        "median": {name: round(m) for name, m in medians.items()},
        "keepalive": keepalive,
        "engine_vs_locust": round(ours / medians["locust FastHttpUser"], 3) if keepalive else None,
        "engine_vs_ab": round(ours / medians[ab_name], 3),
        "engine_vs_raw_gevent": round(ours / medians["raw gevent loop"], 3) if "raw gevent loop" in medians else None,
        "engine_cpu_percent_median": statistics.median(cpu) if cpu else None,
        "epoll_core_vs_greenlet_core": round(ours / medians[GREENLET_CORE], 3),
        "greenlet_core_cpu_percent_median": statistics.median(greenlet_cpu) if greenlet_cpu else None,
    }
    summary = write_results(args.output, summary)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print_table(summary, results, ab_name)


if __name__ == "__main__":
    main()
