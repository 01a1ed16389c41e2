"""Benchmark: the local deployment's scoring speed, side by side with an AutoML-style scoring script.

One run, one model, one server (azmlinfsrv), measured in turn:
  * bankscore's score.py (lean scorer, @rawhttp) with 1 and 2 workers, as `bankscore deploy local` serves it:
    through its public port (nginx in front when nginx is installed) and on the server's own port;
  * the same release with 2 workers on gunicorn's gthread worker (keep-alive): measured, not used, because
    the server's scoring timeout (SCORING_TIMEOUT_MS, a SIGALRM) works only in the main thread;
  * the server's floor: a do-nothing @rawhttp score.py (reads the body, answers a constant) with 2 workers and
    the deployment's own logging.json, on the server's port: no script can serve faster on this machine
    with the server's default (sync) worker;
  * an AutoML-style score.py (inference-schema decorators with PandasParameterType, then the model's pandas
    predict, as Azure AutoML's generated scoring scripts do) with 2 workers;
  * generation D, 1 worker each (the no-code image's default): bankscore's score.py as
    `bankscore deploy local --generation D` serves it, and Microsoft's no-code MLflow scoring script run
    unmodified on the registered MLflow model folder (tests/no_code_oracle.py; needs BANKSCORE_MLFLOW_NO_CODE),
    both sent the same split-frame bodies. --no-generation-d leaves them out.
  * with --baseline REV: the scoring app as revision REV of this repository writes it (its release built by
    that revision's own code, from `git archive`), beside this checkout's app, both launched the same way
    (azmlinfsrv, 2 workers, the server's port, as `deploy local` sets the threads): the side-by-side check that
    a change to the scoring app kept its speed.
For each: `ab -k -c 8 -n N` requests/s with one record per request, and the server's own scoring-function time
(`x-ms-run-fn-exec-ms`) p50/p99 for 1 and 1,000 records. Every server stays up for the whole run and the
measurements go round them in --rounds interleaved rounds (medians reported, every round kept in the JSON),
so a change in the machine's other load hits every row alike; the load average before and after is recorded
too. Compare rows of one run, not runs.

    python benchmarks/serving.py [--requests 5000] [--rounds 3] [--budget 60] [--output benchmarks/results/serving.json]
                                 [--no-generation-d] [--only-generation-d] [--baseline REV]

Needs bankscore[all] and Apache Bench (`ab`). Trains a model in a temporary workspace first (AutoML budget
--budget seconds), so the numbers are for the kind of model `bankscore train` produces.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ROOT, argument_parser, bankscore, free_port, load_by_path, workspace_env, write_results

AUTOML_STYLE_SCORE = '''\
"""An AutoML-style scoring script: inference-schema decorators and a pandas predict (for comparison only)."""
import json
import os
import pickle

import pandas as pd
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

SAMPLE = pd.DataFrame([json.loads(os.environ["BENCH_SAMPLE_ROW"])])
model = None


def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"), "rb") as fh:
        model = pickle.load(fh)


@input_schema("GlobalParameters", StandardPythonParameterType({"method": "predict"}), convert_to_provided_type=False)
@input_schema("Inputs", StandardPythonParameterType({"data": PandasParameterType(SAMPLE)}))
@output_schema(StandardPythonParameterType({"Results": ["no"]}))
def run(Inputs, GlobalParameters={"method": "predict"}):
    data = Inputs["data"]
    if GlobalParameters.get("method") == "predict_proba":
        result = model.predict_proba(data).tolist()
    else:
        result = model.predict(data)
    return {"Results": list(result)}
'''


# The server's floor: what azmlinfsrv answers per second when run() does no work at all.
DO_NOTHING_SCORE = '''\
"""Do nothing: read the body, answer a constant (the server's own per-request cost, for comparison only)."""
from azureml.contrib.services.aml_request import rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    request.get_data()
    return AMLResponse({"Results": ["no"]}, 200, json_str=True)
'''


def _ab(url: str, body: Path, requests: int) -> float:
    out = subprocess.run(
        ["ab", "-k", "-c", "8", "-n", str(requests), "-p", str(body), "-T", "application/json", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        raise SystemExit(f"ab saw failures against {url}:\n{out}")
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def _fn_times(url: str, body: bytes, count: int) -> list[float]:
    import httpx

    with httpx.Client(headers={"Content-Type": "application/json"}, timeout=60) as client:
        times = []
        for _ in range(count):
            response = client.post(url, content=body)
            response.raise_for_status()
            times.append(float(response.headers["x-ms-run-fn-exec-ms"]))
    return times


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered), 3), "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 3)}


def _wait(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server on port {port} exited during start-up")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).text == "Healthy":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the server on port {port} did not become healthy")


@dataclass
class Target:
    """One thing to measure: ab at ``url``; the scoring-function header at ``fn_url`` (None: not measured)."""

    key: str
    label: str
    workers: int
    where: str
    url: str
    fn_url: str | None
    requests: int
    wire: str = "records"  # which bodies: "records" (generation C) or "frame" (generation D)
    rps: list[float] = field(default_factory=list)
    fn_one: list[float] = field(default_factory=list)
    fn_thousand: list[float] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "requests_per_s_ab_k_c8": round(statistics.median(self.rps), 1),
            "requests_per_s_each_round": self.rps,
        }
        if self.fn_url is not None:
            result["fn_exec_1_record"] = _percentiles(self.fn_one)
            result["fn_exec_1000_records"] = _percentiles(self.fn_thousand)
        return result


def _serve_script(
    folder: Path, env: dict[str, str], *, model_dir: Path | None = None, gunicorn_args: str = ""
) -> tuple[subprocess.Popen[bytes], int]:
    """Start azmlinfsrv on ``folder/score.py`` (model in ``model_dir``, by default ``folder/model``) with 2
    workers, as bankscore does, plus any extra gunicorn settings."""
    port = free_port()
    model = model_dir or folder / "model"
    script_env = {
        **env,
        "AML_APP_ROOT": str(folder),
        "AZUREML_MODEL_DIR": str(model),
        "GUNICORN_CMD_ARGS": f"--no-control-socket {gunicorn_args}".strip(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "bankscore.deploy._launch", "--entry_script", str(folder / "score.py"),
         "--model_dir", str(model), "--port", str(port), "--worker_count", "2"],
        env=script_env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    _wait(port, server)
    return server, port


def _ensemble(release: Path) -> list[dict[str, Any]]:
    """The served model's learners: kind, weight and tree count (the 1,000-record time depends on them)."""
    artifact_path = next(release.rglob("scorer.pkl"))
    with artifact_path.open("rb") as fh:
        artifact = pickle.load(fh)  # noqa: S301 - the release this benchmark just deployed
    members = []
    for member in artifact["members"]:
        kind, model = member["kind"], member["model"]
        if kind == "xgboost" and member.get("trees") is not None:
            trees = len(member["trees"])
        elif kind == "lightgbm":
            trees = int(model.num_trees())
        elif kind == "forest":
            trees = len(model)
        else:
            trees = 0
        members.append({"kind": kind, "weight": round(float(member["weight"]), 4), "trees": trees})
    return members


def _automl_style_folder(work: Path, env: dict[str, str]) -> Path:
    """The AutoML-style script over the very same registered model, through FLAML's pandas path."""
    style = work / "automl-style"
    (style / "model").mkdir(parents=True)
    (style / "score.py").write_text(AUTOML_STYLE_SCORE)
    loader = (
        "import pickle, sys; from bankscore.automl._registry import load_model; "
        "pickle.dump(load_model(), open(sys.argv[1], 'wb'))"
    )
    subprocess.run([sys.executable, "-c", loader, str(style / "model" / "model.pkl")], env=env, check=True)
    return style


def _do_nothing_folder(work: Path, release: Path) -> Path:
    """The server's floor, with the deployment's own logging configuration."""
    floor = work / "do-nothing"
    (floor / "model").mkdir(parents=True)
    (floor / "score.py").write_text(DO_NOTHING_SCORE)
    if (release / "logging.json").is_file():
        shutil.copy(release / "logging.json", floor / "logging.json")
    return floor


def _oracle_module() -> Any:
    """tests/no_code_oracle.py (Microsoft's no-code script on azmlinfsrv, bound to 127.0.0.1), loaded by path."""
    if not os.environ.get("BANKSCORE_MLFLOW_NO_CODE"):
        raise SystemExit(
            "generation D needs Microsoft's no-code script: set BANKSCORE_MLFLOW_NO_CODE (./dev.sh sets it when "
            "../shared/azure exists), or pass --no-generation-d"
        )
    # The oracle takes the deploy fixtures from sys.modules, where tests/conftest.py puts them in a test run.
    load_by_path("bankscore_tests_deploy_fixtures", ROOT / "tests" / "bankscore" / "deploy" / "conftest.py")
    return load_by_path("bankscore_tests_no_code_oracle", ROOT / "tests" / "no_code_oracle.py")


def _start_generation_d(
    work: Path, env: dict[str, str], args: argparse.Namespace, stack: contextlib.ExitStack
) -> list[Target]:
    """bankscore's D deployment and Microsoft's no-code script on the same registered model, 1 worker each."""
    oracle = _oracle_module()
    port = free_port()
    deploy = ("deploy", "local", "--name", "bench-d", "--port", str(port), "--workers", "1", "--generation", "D")
    state = json.loads(bankscore(*deploy, "--json", env=env))
    ours = f"http://127.0.0.1:{state.get('backend_port') or port}/score"
    folder = work / "mlflow-model" / "model"
    exporter = (
        "import sys; from pathlib import Path; from bankscore.automl._registry import export_model_folder; "
        "export_model_folder('bank-marketing', Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", exporter, str(folder)], env=env, check=True)
    environment = oracle.oracle_environment()
    print(f"no-code oracle: {environment.python} (pandas {environment.pandas})", file=sys.stderr)
    base = stack.enter_context(oracle.no_code_server(folder, python=environment.python, log=work / "oracle.log"))
    theirs = base + "/score"
    return [
        Target("gen_d_bankscore_1_worker", "D: bankscore", 1, "server", ours, ours, args.requests, "frame"),
        Target(
            "gen_d_microsoft_no_code_1_worker",
            "D: Microsoft no-code",
            1,
            "server",
            theirs,
            theirs,
            args.requests_automl_style,
            "frame",
        ),
    ]


def _frame_body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    columns = list(rows[0])
    return {
        "input_data": {
            "columns": columns,
            "index": list(range(len(rows))),
            "data": [[r[c] for c in columns] for r in rows],
        },
        "params": {},
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _release_at(revision: str, model_ref: str, work: Path, env: dict[str, str]) -> Path:
    """The generation-C release folder that ``revision``'s own code writes for ``model_ref``."""
    source = work / "baseline-source"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "client"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {revision}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    folder = work / "baseline-release"
    build = (
        "import sys\n"
        "from pathlib import Path\n"
        "import bankscore\n"
        "assert Path(bankscore.__file__).is_relative_to(Path(sys.argv[1])), bankscore.__file__\n"
        "from bankscore._generations import WireGeneration\n"
        "from bankscore.deploy._release import build_release\n"
        "build_release(sys.argv[2], generation=WireGeneration.C, name='bench-baseline', folder=Path(sys.argv[3]))\n"
    )
    subprocess.run(
        [sys.executable, "-c", build, str(source), model_ref, str(folder)],
        env={**env, "PYTHONPATH": str(source / "client")}, check=True, cwd=work,
    )  # fmt: skip
    return folder


def _start_baseline(
    revision: str, model_ref: str, release: Path, work: Path, env: dict[str, str], args: argparse.Namespace,
    servers: list[subprocess.Popen[bytes]],
) -> list[Target]:  # fmt: skip
    """REV's scoring app and this checkout's ``release``, each on azmlinfsrv with 2 workers, launched alike."""
    targets = []
    as_deployed = {**env, "OMP_NUM_THREADS": "1"}  # as deploy local runs it
    for key, label, folder in (
        ("baseline_2_workers", f"scoring app at {revision}", _release_at(revision, model_ref, work, env)),
        ("current_2_workers", "scoring app of this checkout", release),
    ):
        server, port = _serve_script(folder, as_deployed, model_dir=folder / "azureml-models")
        servers.append(server)
        url = f"http://127.0.0.1:{port}/score"
        targets.append(Target(key, label, 2, "server", url, url, args.requests))
    return targets


def _start_all(
    work: Path, env: dict[str, str], rows: list[Any], args: argparse.Namespace, servers: list[subprocess.Popen[bytes]]
) -> tuple[list[Target], Path]:
    """Deploy bankscore with 1 and 2 workers, start the floor and the AutoML-style server; the targets to measure."""
    targets: list[Target] = []
    release: Path | None = None
    for workers in (1, 2):
        port = free_port()
        name = f"bench-{workers}w"
        deploy = ("deploy", "local", "--name", name, "--port", str(port), "--workers", str(workers), "--json")
        state = json.loads(bankscore(*deploy, env=env))
        release = Path(state["folder"])
        backend = state.get("backend_port") or port
        server_url = f"http://127.0.0.1:{backend}/score"
        key = f"bankscore_{workers}_worker"
        targets.append(Target(key, "bankscore", workers, "server", server_url, server_url, args.requests))
        if backend != port:  # a gateway in front: what callers of the scoring URI get
            public = state["scoring_uri"]
            targets.append(Target(f"{key}_public_port", "bankscore", workers, "public", public, None, args.requests))
    if release is None:
        raise SystemExit("no deployment was made")
    # The same release on gunicorn's gthread worker (keep-alive; the server's default sync worker closes every
    # connection and waits for the client's FIN). Measured, not what `deploy local` runs: in a request thread
    # the server's scoring timeout (SIGALRM, main thread only) is silently off.
    gthread, port = _serve_script(
        release,
        {**env, "OMP_NUM_THREADS": "1"},  # as deploy local runs it
        model_dir=release / "azureml-models",
        gunicorn_args="--worker-class gthread --threads 1",
    )
    servers.append(gthread)
    url = f"http://127.0.0.1:{port}/score"
    targets.append(
        Target("bankscore_2_workers_gthread", "bankscore, gthread worker", 2, "server", url, url, args.requests)
    )
    floor, port = _serve_script(_do_nothing_folder(work, release), env)
    servers.append(floor)
    url = f"http://127.0.0.1:{port}/score"
    targets.append(Target("do_nothing_2_workers", "do-nothing (floor)", 2, "server", url, url, args.requests))
    style_env = {**env, "BENCH_SAMPLE_ROW": json.dumps(rows[0])}
    style, port = _serve_script(_automl_style_folder(work, env), style_env)
    servers.append(style)
    url = f"http://127.0.0.1:{port}/score"
    style_requests = args.requests_automl_style
    targets.append(Target("automl_style_2_workers", "AutoML-style", 2, "server", url, url, style_requests))
    return targets, release


def _measure_rounds(targets: list[Target], bodies: dict[str, dict[str, Path]], rounds: int) -> None:
    """Every target in turn, ``rounds`` times: a change in the machine's load hits every target alike."""
    for target in targets:
        # warm-up: every worker has loaded and scored
        _ab(target.url, bodies[target.wire]["one"], min(300, target.requests))
    for number in range(rounds):
        for target in targets:
            wire = bodies[target.wire]
            target.rps.append(_ab(target.url, wire["one"], target.requests))
            if target.fn_url is not None:
                target.fn_one += _fn_times(target.fn_url, wire["one"].read_bytes(), max(1, 300 // rounds))
                target.fn_thousand += _fn_times(target.fn_url, wire["thousand"].read_bytes(), max(1, 60 // rounds))
        done = ", ".join(f"{t.key} {t.rps[-1]:.0f}" for t in targets)
        print(f"round {number + 1}/{rounds} (req/s): {done}", file=sys.stderr)


def main() -> None:
    parser = argument_parser(__doc__, "serving.json")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--requests-automl-style", type=int, default=300, help="fewer: it is much slower")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--no-generation-d", dest="generation_d", action="store_false", help="leave the D rows out")
    parser.add_argument("--only-generation-d", action="store_true", help="only the two D rows (and the training)")
    parser.add_argument(
        "--baseline", metavar="REV", help="also serve the scoring app as this git revision writes it, side by side"
    )
    args = parser.parse_args()

    from bankscore.data import load_training_data

    rows = list(load_training_data().records())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = workspace_env(work / "ws")
        bodies: dict[str, dict[str, Path]] = {}
        for wire, body in (("records", lambda r: {"Inputs": {"data": r}}), ("frame", _frame_body)):
            bodies[wire] = {"one": work / f"{wire}-one.json", "thousand": work / f"{wire}-thousand.json"}
            bodies[wire]["one"].write_text(json.dumps(body(rows[:1])))
            bodies[wire]["thousand"].write_text(json.dumps(body(rows[:1000])))
        summary = json.loads(bankscore("train", "--time-budget", str(args.budget), "--json", env=env))
        results["model"] = {"ref": summary["model"], "algorithm": summary["algorithm"]}

        servers: list[subprocess.Popen[bytes]] = []
        try:
            with contextlib.ExitStack() as stack:
                targets: list[Target] = []
                if not args.only_generation_d:
                    targets, release = _start_all(work, env, rows, args, servers)
                    if args.baseline:
                        targets += _start_baseline(args.baseline, summary["model"], release, work, env, args, servers)
                if args.generation_d or args.only_generation_d:
                    targets += _start_generation_d(work, env, args, stack)
                    release = Path(
                        json.loads(bankscore("deploy", "status", "--name", "bench-d", "--json", env=env))["folder"]
                    )
                results["model"]["members"] = _ensemble(release)
                load_before = _load()
                _measure_rounds(targets, bodies, args.rounds)
                load_after = _load()
        finally:
            for server in servers:
                os.killpg(server.pid, 15)
                server.wait(timeout=30)
            for name in ("bench-1w", "bench-2w", "bench-d"):
                subprocess.run(
                    [sys.executable, "-m", "bankscore.cli", "deploy", "stop", "--name", name],
                    env=env, capture_output=True, check=False,
                )  # fmt: skip
        for target in targets:
            results[target.key] = target.result()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, {_cpu_model()}, Python {platform.python_version()}"
    record = write_results(args.output, _record(results, args, load_before, load_after), machine=machine)
    _print_table(record, targets)


def _record(
    results: dict[str, Any], args: argparse.Namespace, load_before: list[float], load_after: list[float]
) -> dict[str, Any]:
    """The run as saved (but for when and where): how loaded, every result, and the side-by-side ratios."""
    record: dict[str, Any] = {
        "load_average_1_5_15_min": {"before": load_before, "after": load_after},
        "requests": {
            "bankscore": args.requests,
            "automl_style_and_microsoft_no_code": args.requests_automl_style,
            "rounds": args.rounds,
        },
        "results": results,
    }
    if "bankscore_2_worker" in results:
        ours = results["bankscore_2_worker"]["requests_per_s_ab_k_c8"]
        theirs = results["automl_style_2_workers"]["requests_per_s_ab_k_c8"]
        floor = results["do_nothing_2_workers"]["requests_per_s_ab_k_c8"]
        record["throughput_ratio_bankscore_vs_automl_style"] = round(ours / theirs, 1)
        record["throughput_share_of_do_nothing_floor"] = round(ours / floor, 2)
    if "baseline_2_workers" in results:
        before, after = results["baseline_2_workers"], results["current_2_workers"]
        record["baseline"] = {
            "revision": args.baseline,
            "requests_per_s_this_checkout_vs_baseline": round(
                after["requests_per_s_ab_k_c8"] / before["requests_per_s_ab_k_c8"], 2
            ),
            "fn_time_p50_baseline_vs_this_checkout_1_record": round(
                before["fn_exec_1_record"]["p50_ms"] / after["fn_exec_1_record"]["p50_ms"], 2
            ),
            "fn_time_p50_baseline_vs_this_checkout_1000_records": round(
                before["fn_exec_1000_records"]["p50_ms"] / after["fn_exec_1000_records"]["p50_ms"], 2
            ),
        }
    if "gen_d_bankscore_1_worker" in results:
        ours_d, theirs_d = results["gen_d_bankscore_1_worker"], results["gen_d_microsoft_no_code_1_worker"]
        record["generation_d_ratios_bankscore_vs_microsoft_no_code"] = {
            "requests_per_s": round(ours_d["requests_per_s_ab_k_c8"] / theirs_d["requests_per_s_ab_k_c8"], 1),
            "fn_time_p50_1_record": round(
                theirs_d["fn_exec_1_record"]["p50_ms"] / ours_d["fn_exec_1_record"]["p50_ms"], 1
            ),
            "fn_time_p50_1000_records": round(
                theirs_d["fn_exec_1000_records"]["p50_ms"] / ours_d["fn_exec_1000_records"]["p50_ms"], 1
            ),
        }
    return record


def _print_table(record: dict[str, Any], targets: list[Target]) -> None:
    results = record["results"]
    load = record["load_average_1_5_15_min"]
    print(f"model {results['model']['ref']} ({results['model']['algorithm']})")
    members = ", ".join(f"{m['kind']} x{m['weight']} ({m['trees']} trees)" for m in results["model"]["members"])
    print(f"ensemble: {members}")
    print(f"load average (1, 5, 15 min): before {load['before']}, after {load['after']}")
    print("| score.py | workers | port | req/s (ab -k -c 8, 1 record) | fn p50 1 rec (ms) | fn p50 1,000 rec (ms) |")
    print("|---|---|---|---|---|---|")
    for target in targets:
        r = results[target.key]
        one = r.get("fn_exec_1_record", {}).get("p50_ms", "-")
        thousand = r.get("fn_exec_1000_records", {}).get("p50_ms", "-")
        rps = f"{r['requests_per_s_ab_k_c8']:.0f} ({', '.join(f'{x:.0f}' for x in target.rps)})"
        print(f"| {target.label} | {target.workers} | {target.where} | {rps} | {one} | {thousand} |")
    if "throughput_ratio_bankscore_vs_automl_style" in record:
        ratio = record["throughput_ratio_bankscore_vs_automl_style"]
        print(f"throughput ratio bankscore / AutoML-style (2 workers): {ratio}x")
        share = record["throughput_share_of_do_nothing_floor"]
        print(f"bankscore (2 workers) reaches {share:.0%} of the do-nothing floor")
    if "baseline" in record:
        b = record["baseline"]
        print(
            f"this checkout's scoring app / {b['revision']}'s (2 workers): "
            f"{b['requests_per_s_this_checkout_vs_baseline']}x requests/s; fn time p50 ratio baseline / this "
            f"checkout {b['fn_time_p50_baseline_vs_this_checkout_1_record']} (1 record), "
            f"{b['fn_time_p50_baseline_vs_this_checkout_1000_records']} (1,000)"
        )
    if "generation_d_ratios_bankscore_vs_microsoft_no_code" in record:
        d = record["generation_d_ratios_bankscore_vs_microsoft_no_code"]
        print(
            f"generation D, bankscore / Microsoft no-code (1 worker each): {d['requests_per_s']}x requests/s, "
            f"fn time {d['fn_time_p50_1_record']}x (1 record) and {d['fn_time_p50_1000_records']}x (1,000) faster"
        )


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
