"""``bankscore demo``: the whole workflow on this machine, the first command a new user runs."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import click

from bankscore.cli._extras import require_extra

__all__ = ["demo"]

DEMO_BUDGET = 45.0  # seconds of AutoML when no model is registered yet: a good model, a short wait
STEPS = 5
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


def _score(url: str, headers: dict[str, str], records: list[dict[str, Any]]) -> list[list[float]]:
    import httpx

    body = {"Inputs": {"data": records}, "GlobalParameters": {"method": "predict_proba"}}
    response = httpx.post(url, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return list(response.json()["Results"])


def _latency(url: str, headers: dict[str, str], record: dict[str, Any], count: int) -> list[float]:
    import httpx

    body = json.dumps({"Inputs": {"data": [record]}}).encode()
    timings: list[float] = []
    with httpx.Client(headers={**headers, "Content-Type": "application/json"}, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.post(url, content=body).raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _ensure_model(time_budget: float, retrain: bool) -> str:
    """Steps 1 and 2: register the data; train unless a model is registered. Returns the model's ref."""
    from bankscore.automl import TrainOptions
    from bankscore.automl._registry import get_model_version, list_model_versions
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


def _deploy(model_ref: str, port: int) -> tuple[Any, dict[str, str]]:
    """Step 3: serve the model on 127.0.0.1, behind the key gateway when nginx is there."""
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._generations import WireGeneration
    from bankscore.deploy._local import free_port, load_state, new_key, port_free, read_keys, start_local, stop_local
    from bankscore.deploy._release import build_release

    _step(3, STEPS, "Deploy locally on the Azure ML inference server")
    running = load_state(NAME)
    if not port_free(port) and (running is None or running.port != port):
        free = free_port()
        click.echo(f"port {port} is busy; using {free}", err=True)
        port = free
    keys = [new_key(), new_key()] if find_nginx() else None
    if keys is None:
        click.echo("nginx is not installed: serving without keys (apt-get install nginx-light adds them)", err=True)
    folder = build_release(model_ref, generation=WireGeneration.C, name=NAME)
    if running is not None:
        stop_local(NAME)
    state = start_local(folder, name=NAME, port=port, keys=keys)
    click.echo(f"serving {state.model_name}:{state.model_version} at {state.scoring_uri}", err=True)
    headers = {"Authorization": f"Bearer {read_keys(NAME)['primary']}"} if keys else {}
    return state, headers


def _show_scores(state: Any, headers: dict[str, str]) -> dict[str, Any]:
    """Step 4: score real customers and show them beside what really happened."""
    _step(4, STEPS, "Score real customers over HTTP")
    customers, actual = _customers(state.features, 6)
    results = _score(state.scoring_uri, headers, customers)
    click.echo(f"{'age':>4} {'job':<14}{'month':<6}{'duration':>9}  {'actual':<7}{'P(yes)':>7}  prediction")
    for record, truth, (_, p_yes) in zip(customers, actual, results, strict=True):
        duration = record.get("duration", "-")
        guess = "yes" if p_yes >= 0.5 else "no"
        click.echo(
            f"{record['age']:>4} {record['job']:<14}{record['month']:<6}{duration:>9}  {truth:<7}{p_yes:>7.3f}  {guess}"
        )
    return customers[0]


def _measure(state: Any, headers: dict[str, str], record: dict[str, Any]) -> None:
    """Step 5: a short, bounded latency measurement (200 sequential requests)."""
    _step(5, STEPS, "Measure")
    timings = sorted(_latency(state.scoring_uri, headers, record, 200))
    p50, p99 = statistics.median(timings), timings[int(len(timings) * 0.99) - 1]
    click.echo(f"200 sequential single-record requests: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {timings[-1]:.2f} ms")
    click.echo("(for load tests with ab's flags and reports, bankscore-bench arrives in a later version)")


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=5001, show_default=True, help="Port on 127.0.0.1.")
@click.option("--time-budget", type=float, default=DEMO_BUDGET, show_default=True, help="AutoML seconds if training.")
@click.option("--retrain", is_flag=True, help="Train a new model even if one is registered.")
def demo(port: int, time_budget: float, retrain: bool) -> None:
    """Train, deploy locally, score and measure, with no account, key or network.

    Registers the shipped Bank Marketing data, trains a model with AutoML if none is registered yet,
    serves it with the Azure ML inference server on 127.0.0.1 behind a key-checking gateway (when nginx
    is installed), scores real customers over HTTP, measures latency, and says how to stop it.
    """
    require_extra("train")
    require_extra("serve")
    from bankscore import workspace

    model_ref = _ensure_model(time_budget, retrain)
    state, headers = _deploy(model_ref, port)
    first = _show_scores(state, headers)
    _measure(state, headers, first)
    click.echo("")
    click.secho("The deployment keeps running.", bold=True)
    click.echo(f"  score        POST {state.scoring_uri}" + ("  (Authorization: Bearer <key>)" if headers else ""))
    click.echo(f"  swagger      {state.swagger_uri}?version=3")
    if headers:
        click.echo("  keys         bankscore deploy status --show-keys")
    click.echo("  logs         bankscore deploy logs --follow")
    click.echo(f"  workspace    {workspace.home()}  (models: bankscore models list)")
    click.echo("  stop         bankscore deploy stop")
