"""Fixtures for the local-deployment tests: one small model trained once, real servers started from the CLI.

The session trains one small model into a temporary workspace (BANKSCORE_HOME is set only while training and
loading; every `bankscore` command runs in a subprocess that gets the workspace in its own environment), then
starts the deployments the tests share, all at once to save wall time, and stops them at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bankscore.deploy import EXTENSION_KEY
from bankscore.deploy._local import port_free  # "free" as `deploy local` judges it
from bankscore.deploy._state import local_url

# The key of the "keyed" deployment: long and odd enough that finding it in a log cannot be a coincidence.
TEST_KEY = "bk-TestKey-7f3a9c21e5d84b06Qx"


@contextlib.contextmanager
def workspace_env(home: Path) -> Iterator[None]:
    """Point this process at ``home`` for the duration, then put the environment back as it was."""
    saved = {name: os.environ.get(name) for name in ("BANKSCORE_HOME", "MLFLOW_TRACKING_URI")}
    os.environ["BANKSCORE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's ephemeral range, never the same twice in this process.

    A port from bind(0) is free again once its socket closes, so a deployment's own backend port (bind(0) in
    `deploy local`) could take the public port given to another deployment starting beside it. Below the
    ephemeral range, bind(0) never hands a port out."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768  # Linux's default
    ports = list(range(max(1024, ephemeral_low - 12000), ephemeral_low))
    random.Random().shuffle(ports)  # spreads the picks of processes running side by side
    for port in ports:
        if port not in _HANDED_OUT and port_free(port):
            _HANDED_OUT.add(port)
            return port
    raise OSError("no free port below the ephemeral range")


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie waiting for a parent that is not ours to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(") ", 1)[1][0] in "ZX"


def group_gone(pgid: int) -> bool:
    """No live process left in process group ``pgid`` (the server's gunicorn workers, nginx's worker)."""
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat_file.read_text().rsplit(") ", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] not in "ZX":
                return False
    return True


@pytest.fixture(scope="session")
def system() -> SimpleNamespace:
    """The port and process helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(free_port=free_port, port_free=port_free, process_gone=process_gone, group_gone=group_gone)


@dataclass
class TrainedWorkspace:
    """A workspace holding ``bank-marketing:1`` and what that model says about two shipped records."""

    home: Path
    model_ref: str
    yes_record: dict[str, Any]  # the shipped record with the highest P(yes)
    no_record: dict[str, Any]  # one with a low P(yes)
    labels: list[str]  # the registered model's predict() of [yes_record, no_record]
    proba: list[list[float]]  # its predict_proba() of the same records
    model_version: str = "1"

    @property
    def records(self) -> list[dict[str, Any]]:
        return [self.yes_record, self.no_record]

    def env(self) -> dict[str, str]:
        env = {**os.environ, "BANKSCORE_HOME": str(self.home)}
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bankscore.cli", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "bankscore.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )


def train_small_workspace(tmp_path_factory: pytest.TempPathFactory) -> TrainedWorkspace:
    """Train on every sixth shipped row (6 trials, 3-fold CV, reproducible) and register the model.

    The session fixture ``trained`` (tests/conftest.py) calls this once for every test folder."""
    from bankscore.automl import TrainOptions, run_automl
    from bankscore.automl._registry import load_model, log_training
    from bankscore.data import Dataset, load_training_data

    home = tmp_path_factory.mktemp("deploy-workspace")
    full = load_training_data()
    sample = Dataset(columns={n: v[::6] for n, v in full.columns.items()}, source="sample-of-6", sha256="sample")
    with workspace_env(home):
        result = run_automl(sample, TrainOptions(time_budget=None, max_trials=6, cv=3))
        report = home / "report"
        report.mkdir()
        info = log_training(result, "sample:1", "sample", report)
        model = load_model(info.ref)

    # The shipped record the model scores highest and one it scores lowest: a small 6-trial model may never
    # reach P(yes) >= 0.5, so the expected labels are whatever the registered model's own predict() says.
    labelled = list(full.records(with_label=True))
    candidates = [{k: v for k, v in r.items() if k != "y"} for r in labelled if r["y"] == "yes"]
    candidates += [{k: v for k, v in r.items() if k != "y"} for r in labelled[:400] if r["y"] == "no"]
    p_yes = model.predict_proba(candidates)[:, 1]
    yes_record = candidates[int(p_yes.argmax())]
    no_record = candidates[int(p_yes.argmin())]
    records = [yes_record, no_record]
    return TrainedWorkspace(
        home=home,
        model_ref=info.ref,
        yes_record=yes_record,
        no_record=no_record,
        labels=list(model.predict(records)),
        proba=model.predict_proba(records).tolist(),
        model_version=str(info.version),
    )


@dataclass
class Deployment:
    """One running local deployment, as `bankscore deploy local --json` described it."""

    name: str
    generation: str
    port: int
    state: dict[str, Any]
    key: str | None = None
    extra_args: tuple[str, ...] = field(default=())

    @property
    def url(self) -> str:
        return local_url(self.port)

    @property
    def backend_url(self) -> str:
        return local_url(self.state["backend_port"])

    @property
    def folder(self) -> Path:
        return Path(self.state["folder"])

    @property
    def contract(self) -> dict[str, Any]:
        found = sorted(self.folder.rglob("contract.json"))
        return dict(json.loads(found[0].read_text()))

    def run_dir(self, home: Path) -> Path:
        return home / "deployments" / self.name


# name -> (generation, extra `deploy local` flags)
DEPLOYMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gen-a": ("A", ()),
    "gen-b": ("B", ()),
    "gen-c": ("C", ()),
    "gen-d": ("D", ()),  # the no-code MLflow wire on bankscore's own score.py (test_gen_d.py)
    "keyed": ("C", ("--key", TEST_KEY)),  # behind the nginx gateway, primary key known, secondary generated
    "life": ("A", ("--auth",)),  # started here, stopped by the lifecycle test
}


@contextlib.contextmanager
def started_deployments(
    trained: TrainedWorkspace, wanted: dict[str, tuple[str, tuple[str, ...]]]
) -> Iterator[dict[str, tuple[int, dict[str, Any]]]]:
    """Start every deployment of ``wanted`` (name -> generation, extra `deploy local` flags) at once with
    `bankscore deploy local`; name -> (port, state). At the end all are stopped at once (~3 s each) and their
    processes waited for, so the next session finds the ports free."""
    procs: dict[str, tuple[int, subprocess.Popen[str]]] = {}
    started: dict[str, tuple[int, dict[str, Any]]] = {}
    try:
        for name, (generation, extra) in wanted.items():
            port = free_port()
            args = ("deploy", "local", "--name", name, "--port", str(port), "--generation", generation, *extra)
            procs[name] = (port, trained.popen(*args, "--timeout", "120", "--json"))
        failures = []
        for name, (port, proc) in procs.items():
            stdout, stderr = proc.communicate(timeout=240)
            if proc.returncode != 0:
                failures.append(f"{name}: exit {proc.returncode}\n{stderr}")
                continue
            started[name] = (port, json.loads(stdout))
        if failures:
            pytest.fail("deployments did not start:\n" + "\n".join(failures))
        yield started
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        # A deployment a test stopped itself just says there is nothing to stop.
        for stop in [trained.popen("deploy", "stop", "--name", name) for name in procs]:
            stop.communicate(timeout=60)
        pids = [state["server_pid"] for _, state in started.values()]
        pids += [state["gateway_pid"] for _, state in started.values() if state.get("gateway_pid")]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(process_gone(p) for p in pids):
            time.sleep(0.1)


@contextlib.contextmanager
def local_deployment(trained: TrainedWorkspace, name: str, *flags: str) -> Iterator[str]:
    """`bankscore deploy local --name NAME FLAGS` on a port of its own; its scoring URI. Stopped at the end, and
    its port waited for, so that a later deployment may take it."""
    port = free_port()
    proc = trained.popen("deploy", "local", "--name", name, "--port", str(port), *flags)
    _, stderr = proc.communicate(timeout=240)
    try:
        assert proc.returncode == 0, stderr
        yield f"{local_url(port)}/score"
    finally:
        trained.cli("deploy", "stop", "--name", name, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not port_free(port):
            time.sleep(0.1)


@pytest.fixture(scope="session")
def deployments(trained: TrainedWorkspace) -> Iterator[dict[str, Deployment]]:
    """Start every shared deployment at once with `bankscore deploy local`; stop them all at the end."""
    with started_deployments(trained, DEPLOYMENTS) as started:
        deployed = {}
        for name, (port, state) in started.items():
            generation, extra = DEPLOYMENTS[name]
            deployed[name] = Deployment(name, generation, port, state, TEST_KEY if "--key" in extra else None, extra)
        yield deployed


# --- the parts of a built Swagger 2.0 / OpenAPI 3.0.3 document (test_swagger*.py) ------------------------------


def spec_definitions(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = doc["definitions"] if "swagger" in doc else doc["components"]["schemas"]
    return found


def spec_is_frame(doc: dict[str, Any]) -> bool:
    """Generation D: the body holds a pandas split frame, not records."""
    return "input_data" in spec_definitions(doc)["ServiceInput"]["properties"]


def spec_frame_schema(doc: dict[str, Any]) -> dict[str, Any]:
    frame: dict[str, Any] = spec_definitions(doc)["ServiceInput"]["properties"]["input_data"]
    return frame


def spec_data_schema(doc: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = spec_definitions(doc)["ServiceInput"]["properties"]
    if "Inputs" in body:
        body = body["Inputs"]["properties"]
    elif "input_data" in body:
        body = body["input_data"]["properties"]
    data: dict[str, Any] = body["data"]
    return data


def spec_record_schema(doc: dict[str, Any]) -> dict[str, Any]:
    """One record's schema: data's items, or in generation D the x-bankscore extension's (a row is untyped)."""
    record: dict[str, Any] = doc[EXTENSION_KEY]["record"] if spec_is_frame(doc) else spec_data_schema(doc)["items"]
    return record


def spec_example_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    example = spec_definitions(doc)["ServiceInput"]["example"]
    if "input_data" in example:
        frame = example["input_data"]
        return [dict(zip(frame["columns"], row, strict=True)) for row in frame["data"]]
    rows: list[dict[str, Any]] = example["Inputs"]["data"] if "Inputs" in example else example["data"]
    return rows


@pytest.fixture(scope="session")
def spec_parts() -> SimpleNamespace:
    """The readers of a built document's parts above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(
        definitions=spec_definitions,
        is_frame=spec_is_frame,
        frame_schema=spec_frame_schema,
        data_schema=spec_data_schema,
        record_schema=spec_record_schema,
        example_rows=spec_example_rows,
    )


# --- a load test's report (ab, or bankscore-bench, which prints the same one) ----------------------------------


def ab_field(report: str, name: str) -> str | None:
    """The value of the report's line ``name:`` (None when the report has no such line)."""
    found = re.search(rf"^{re.escape(name)}:\s+(.+)$", report, re.M)
    return found.group(1).strip() if found else None


def stop_load(load: subprocess.Popen[str]) -> tuple[str, str]:
    """Stop the load run as Ctrl-C does (it then prints its report) unless it ended; its stdout and stderr."""
    if load.poll() is None:
        load.send_signal(signal.SIGINT)
    return load.communicate(timeout=60)


def check_no_failed_request(report: str, errors: str, *, at_least: int) -> int:
    """The report counts ``at_least`` complete requests and no failed or non-2xx one; the complete ones."""
    complete = int(ab_field(report, "Complete requests") or 0)
    assert complete >= at_least, report + errors
    assert ab_field(report, "Failed requests") == "0", report
    assert ab_field(report, "Non-2xx responses") is None, report
    return complete


@pytest.fixture(scope="session")
def load_report() -> SimpleNamespace:
    """The load-report helpers above, for test modules (which cannot import this conftest)."""
    return SimpleNamespace(field=ab_field, stop=stop_load, check_no_failed_request=check_no_failed_request)


# --- the YAML `deploy azure` writes, read by azure-ai-ml (test_azure_*.py) --------------------------------------


def load_azure_yaml(kind: str, path: Path) -> Any:
    """``path`` loaded by azure-ai-ml as an online ``kind`` ("endpoint" or "deployment"), as `az ml ... -f` does."""
    with warnings.catch_warnings():
        # azure-ai-ml's own notices (marshmallow 4 deprecations in its schemas, experimental classes) are about
        # the library, not these files; anything else it warns about still fails the test.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.filterwarnings("ignore", module=r"(azure\.ai\.ml|marshmallow)(\..*)?")
        from azure.ai.ml import load_online_deployment, load_online_endpoint

        loader = load_online_endpoint if kind == "endpoint" else load_online_deployment
        return loader(source=path)


@pytest.fixture(scope="session")
def azure_yaml() -> Callable[[str, Path], Any]:
    """``load_azure_yaml``, for test modules (which cannot import this conftest)."""
    return load_azure_yaml
