"""``bankscore demo``: the whole workflow on this machine, the first command a new user runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from bankscore.cli._extras import require_extra

__all__ = ["demo"]

DEMO_BUDGET = 45.0  # seconds of AutoML when no model is registered yet: a good model, a short wait
STEPS = 5
BENCH_REQUESTS = 2000
NAME = "bank-marketing"


def _step(number: int, total: int, text: str) -> None:
    click.secho(f"\n[{number}/{total}] {text}", bold=True, err=True)


def _customers(features: list[str], count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Real customers from the shipped data: alternately ones who subscribed and ones who did not."""
    from bankscore.data import load_training_data

    data = load_training_data()
    wanted = {"yes": (count + 1) // 2, "no": count // 2}
    picked: list[dict[str, Any]] = []
    actual: list[str] = []
    for row in data.records(with_label=True):
        label = str(row["y"])
        if wanted.get(label, 0) > 0:
            wanted[label] -= 1
            picked.append({name: row[name] for name in features})
            actual.append(label)
        if not any(wanted.values()):
            break
    return picked, actual


def _score(url: str, key: str | None, records: list[dict[str, Any]]) -> list[float]:
    """P(yes) per record, through the typed client (validated, generation detected from the spec)."""
    from bankscore import Client

    with Client(url, key=key) as client:
        return [p.probability or 0.0 if p is not None else 0.0 for p in client.predict_many(records)]


def _bench(report: str) -> subprocess.CompletedProcess[str]:
    """A short, bounded bankscore-bench run in its own process (Locust patches the process it runs in)."""
    # -t before -n: as in ab, -t sets -n to 50000 unless a later -n says otherwise.
    command = [sys.executable, "-m", "bankscore_bench", "-t", "30", "-n", str(BENCH_REQUESTS), "-c", "4"]
    command += ["--deployment", NAME, "--html", report, "-q"]  # URI and key from the saved deployment
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603 - our own command


def _ensure_model(time_budget: float, retrain: bool) -> str:
    """Steps 1 and 2: register the data; train unless a model is registered. Returns the model's ref."""
    from bankscore.automl import TrainOptions
    from bankscore.automl._versions import get_model_version, list_model_versions
    from bankscore.automl._workflow import train_and_register
    from bankscore.cli._train import print_progress
    from bankscore.data import register_dataset

    _step(1, STEPS, "Register the Bank Marketing training data")
    dataset, created = register_dataset()
    click.echo(f"{'registered' if created else 'already registered:'} {dataset.ref} ({dataset.rows:,} rows)", err=True)

    _step(2, STEPS, "Train with AutoML (FLAML, AUC_weighted, 5-fold CV)")
    if list_model_versions() and not retrain:
        model = get_model_version()
        click.echo(f"using the registered {model.ref} ({model.algorithm}); --retrain trains a new one", err=True)
        return model.ref
    trained = train_and_register(dataset, TrainOptions(time_budget=time_budget), progress=print_progress)
    held = trained.result.holdout_metrics.get("AUC_weighted", float("nan"))
    click.echo(f"registered {trained.registered.ref}: {trained.registered.algorithm}, held-out AUC {held:.4f}")
    click.echo(f"report {trained.report_dir}", err=True)
    return trained.registered.ref


def _pick_port(port: int, allow_privileged: bool) -> int:
    """The demo's port, settled before anything slow runs: a busy one is swapped for a free one at once."""
    from bankscore.deploy._local import check_privileged_port, free_port, load_state, port_free

    check_privileged_port(port, allow_privileged=allow_privileged)
    running = load_state(NAME)
    if not port_free(port) and (running is None or running.port != port):
        free = free_port()
        click.echo(f"port {port} is busy; using {free}", err=True)
        return free
    return port


def _deploy(model_ref: str, port: int) -> tuple[Any, str | None]:
    """Step 3: serve the model on 127.0.0.1, behind the key gateway when nginx is there."""
    from bankscore._generations import WireGeneration
    from bankscore._progress import StderrSteps
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._local import deployment_keys, load_state, read_keys, start_local, stop_local
    from bankscore.deploy._release import build_release

    _step(3, STEPS, "Deploy locally on the Azure ML inference server")
    running = load_state(NAME)
    keys = deployment_keys(NAME) if find_nginx() else None  # the deployment's keys, kept across demo runs
    if keys is None:
        click.echo("nginx is not installed: serving without keys (apt-get install nginx-light adds them)", err=True)
    with StderrSteps() as steps:
        folder = build_release(model_ref, generation=WireGeneration.C, name=NAME, progress=steps)
        if running is not None:
            steps("stopping the previous demo deployment")
            stop_local(NAME)
        state = start_local(folder, name=NAME, port=port, keys=keys, progress=steps)
    click.echo(f"serving {state.model_name}:{state.model_version} at {state.scoring_uri}", err=True)
    return state, read_keys(NAME)["primary"] if keys else None


def _show_scores(state: Any, key: str | None) -> None:
    """Step 4: score real customers and show them beside what really happened."""
    _step(4, STEPS, "Score real customers with the typed client (bankscore.Client)")
    customers, actual = _customers(state.features, 6)
    results = _score(state.scoring_uri, key, customers)
    click.echo(f"{'age':>4} {'job':<14}{'month':<6}{'duration':>9}  {'actual':<7}{'P(yes)':>7}  label")
    for record, truth, p_yes in zip(customers, actual, results, strict=True):
        duration = record.get("duration", "-")
        label = "yes" if p_yes >= 0.5 else "no"
        click.echo(
            f"{record['age']:>4} {record['job']:<14}{record['month']:<6}{duration:>9}  {truth:<7}{p_yes:>7.3f}  {label}"
        )
    click.echo(
        "P(yes) is the model's probability that the customer subscribes; its label is 'yes' from P(yes) 0.5, as "
        "Azure's predict answers. To call the likeliest customers first, rank by P(yes)."
    )


def _measure(state: Any, workspace_home: Path) -> None:
    """Step 5: a short, bounded load test with bankscore-bench (ab's report, then the exact summary)."""
    _step(5, STEPS, f"Measure with bankscore-bench ({BENCH_REQUESTS} requests, 4 concurrent)")
    if importlib.util.find_spec("locust") is None:
        click.echo("bankscore-bench needs Locust: pip install 'bankscore[bench]'", err=True)
        return
    report = workspace_home / "bench" / "demo.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    result = _bench(str(report))
    if result.returncode != 0:
        click.echo(f"bankscore-bench failed (exit {result.returncode}): {result.stderr.strip()[-500:]}", err=True)
        return
    wanted = ("Complete requests", "Failed requests", "Requests per second", "Time per request")
    for line in result.stdout.splitlines():
        if line.startswith(wanted) and "across all" not in line:
            click.echo(line)
    summary = result.stdout.split("bankscore-bench summary", 1)[-1].splitlines()
    for line in summary:
        if line.strip().startswith(("p50", "latency (ms")):
            click.echo(line.strip())
    click.echo(f"HTML report: {report}")


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True, help="Port on 127.0.0.1.")
@click.option("--allow-privileged-port", is_flag=True, help="Allow a --port below 1024.")
@click.option("--time-budget", type=float, default=DEMO_BUDGET, show_default=True, help="AutoML seconds if training.")
@click.option("--retrain", is_flag=True, help="Train a new model even if one is registered.")
def demo(port: int, allow_privileged_port: bool, time_budget: float, retrain: bool) -> None:
    """Train, deploy locally, score and measure, with no account, key or network.

    Registers the shipped Bank Marketing data, trains a model with AutoML if none is registered yet,
    serves it with the Azure ML inference server on 127.0.0.1 behind a key-checking gateway (when nginx
    is installed), scores real customers over HTTP, measures latency, and says how to stop it.
    """
    require_extra("train")
    require_extra("serve")
    from bankscore import workspace

    port = _pick_port(port, allow_privileged_port)  # before training: a port problem is said at once
    model_ref = _ensure_model(time_budget, retrain)
    state, key = _deploy(model_ref, port)
    _show_scores(state, key)
    _measure(state, workspace.home())
    click.echo("")
    click.secho("The deployment keeps running.", bold=True)
    click.echo(f"  score        POST {state.scoring_uri}" + ("  (Authorization: Bearer <key>)" if key else ""))
    click.echo(f"  swagger      {state.swagger_uri}?version=3")
    if key:
        click.echo("  keys         bankscore deploy status --show-keys")
    click.echo("  logs         bankscore deploy logs --follow")
    click.echo(f"  load test    bankscore-bench -n 10000 -c 8 -k --deployment {NAME} --html bench.html")
    click.echo(f"  workspace    {workspace.home()}  (models: bankscore models list)")
    click.echo("  stop         bankscore deploy stop")
