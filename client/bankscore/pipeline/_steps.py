"""The pipeline's steps, as data: ``STEPS`` lists them once, in the order they run.

register data -> AutoML -> register model -> deploy -> compare -> shift -> update client (pull the new spec,
diff it against the previous deployment's, regenerate the client when the request changed).

``PipelineParameters.rollout`` says how the model reaches callers. ``replace``: deploy replaces the running
deployment without downtime, and compare and shift have nothing to do. ``blue-green``: deploy starts the model
on the endpoint's idle deployment with no traffic (``_rollout``), compare replays labelled shipped rows to both
deployments through the endpoint, and shift gives the new one all the traffic only when every gate passed; a
failed gate fails shift (``RolloutHeldError``), so the run ends Failed and a CI job stops there.

Each ``Step`` names a function that takes the run's ``PipelineContext`` (what earlier steps made) and a
``progress`` callback, fills in the context fields the step ``produces`` and returns a ``StepOutput``: a
one-line message, the values and metrics to record, and the files that are its outputs. A step that is asked
to stop raises ``CanceledError``; any other exception is a failure of that step. Running the steps, recording
them and reporting failures is ``_run``'s part: this module knows nothing of it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bankscore import workspace
from bankscore._exceptions import BankscoreError
from bankscore.pipeline._parameters import PipelineParameters

if TYPE_CHECKING:
    from bankscore._compare import CompareResult
    from bankscore.automl._registry import ModelVersionInfo
    from bankscore.automl._search import TrainingResult
    from bankscore.data import DatasetVersion
    from bankscore.deploy._folder import DeploymentFolder
    from bankscore.deploy._local import LocalDeployment
    from bankscore.swagger import Document, SpecChange

__all__ = [
    "STEPS",
    "STEP_NAMES",
    "CanceledError",
    "PipelineContext",
    "Progress",
    "Step",
    "StepOutput",
    "client_package_name",
    "write_json",
]

Progress = Callable[[str], None]


class CanceledError(BankscoreError):
    """The run was asked to stop; the message says where the step stopped."""


@dataclass
class PipelineContext:
    """One run's shared state: its parameters, then what each step made, in step order."""

    params: PipelineParameters
    run_dir: Path  # the run's folder; each step writes its outputs in a subfolder named after it
    cancel: threading.Event | None = None
    dataset: DatasetVersion | None = None  # register_data
    training: TrainingResult | None = None  # automl
    report_dir: Path | None = None  # automl: the metrics data
    model: ModelVersionInfo | None = None  # register_model
    previous_spec: Document | None = None  # deploy: what the replaced deployment served, if there was one
    deployment: LocalDeployment | None = None  # deploy: set once the new deployment serves
    key: str | None = None  # deploy: the new deployment's primary key, if it takes keys
    live: str | None = None  # deploy, blue-green: the deployment that took the traffic before the run
    rolled_out: bool | None = None  # deploy (replace: True), shift (blue-green): the new model takes the traffic
    comparison: CompareResult | None = None  # compare, blue-green with a live deployment
    spec_changes: list[SpecChange] = field(default_factory=list)  # update_client
    spec_diff: str | None = None  # update_client
    spec_breaking: bool | None = None  # update_client; None: no previous spec to compare with
    client_path: Path | None = None  # update_client, when it regenerated the client


@dataclass
class StepOutput:
    message: str
    values: dict[str, str] = field(default_factory=dict)  # logged as the step run's params
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)


def write_json(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------ step functions


def register_data(context: PipelineContext, progress: Progress) -> StepOutput:
    """Check the CSV against the feature contract and register it (the same bytes: the same version)."""
    from bankscore.data import register_dataset

    dataset, created = register_dataset(context.params.dataset)
    context.dataset = dataset
    verb = "registered" if created else "already registered:"
    data = write_json(context.run_dir / "register_data" / "dataset.json", dataset.to_dict())
    return StepOutput(
        f"{verb} {dataset.ref} ({dataset.rows:,} rows)",
        values={"dataset": dataset.ref, "sha256": dataset.sha256, "source": dataset.source},
        metrics={"rows": float(dataset.rows)},
        artifacts=[data],
    )


def automl(context: PipelineContext, progress: Progress) -> StepOutput:
    """FLAML under AUC_weighted; the metrics data (leaderboard, metrics, plots) is this step's output."""
    from bankscore.automl import Progress as TrialProgress
    from bankscore.automl import TrainOptions, run_automl
    from bankscore.automl._report import write_report

    assert context.dataset is not None
    params = context.params
    options = TrainOptions(time_budget=params.time_budget_s, seed=params.seed, exclude=params.exclude)

    def on_trial(update: TrialProgress) -> None:
        # Raising here leaves FLAML's search loop at once: the cancel reaches the search between two trials.
        if context.cancel is not None and context.cancel.is_set():
            raise CanceledError(f"canceled during AutoML, after trial {update.trial.number}")
        best = update.best.metrics.get("AUC_weighted", float("nan"))
        auc = update.trial.metrics.get("AUC_weighted", float("nan"))
        progress(f"trial {update.trial.number} {update.trial.algorithm} AUC {auc:.4f} (best {best:.4f})")

    result = run_automl(context.dataset.load(), options, progress=on_trial)
    if result.interrupted:  # Ctrl-C reached FLAML's own handler: in a pipeline that means stop
        raise CanceledError("interrupted during AutoML")
    # A cancel that came after the last trial's check (the budget ended the search first) is still a cancel
    # during AutoML: the trained model is not registered.
    if context.cancel is not None and context.cancel.is_set():
        raise CanceledError(f"canceled during AutoML, after its last trial (trial {len(result.trials)})")
    context.training = result
    context.report_dir = context.run_dir / "automl"
    write_report(result, context.report_dir, context.dataset.ref)
    metrics = {f"cv_{k}": v for k, v in result.cv_metrics.items()}
    metrics |= {f"holdout_{k}": v for k, v in result.holdout_metrics.items()}
    held = result.holdout_metrics.get("AUC_weighted", result.cv_metrics.get("AUC_weighted", float("nan")))
    return StepOutput(
        f"{result.model.algorithm} after {len(result.trials)} trials, held-out AUC {held:.4f}",
        values={"algorithm": result.model.algorithm, "excluded": ",".join(result.model.excluded)},
        metrics={**metrics, "trials": float(len(result.trials))},
        artifacts=sorted(p for p in context.report_dir.iterdir() if p.is_file()),
    )


def register_model(context: PipelineContext, progress: Progress) -> StepOutput:
    """Log the training run and register the model; the model data (its registry reference) is the output."""
    from bankscore.automl._report import summary
    from bankscore.automl._workflow import register

    assert context.dataset is not None and context.training is not None and context.report_dir is not None
    # The registration guard applies: a degenerate model stops the pipeline here, before it is deployed.
    registered, _ = register(context.training, context.dataset.ref, context.dataset.sha256, context.report_dir)
    context.model = registered
    info = {**summary(context.training, context.dataset.ref), "model": registered.ref}
    write_json(context.report_dir / "summary.json", info)
    uri = f"models:/{registered.name}/{registered.version}"
    model = write_json(context.run_dir / "register_model" / "model.json", {**registered.to_dict(), "uri": uri})
    return StepOutput(
        f"registered {registered.ref} ({registered.algorithm})",
        values={"model": registered.ref, "model_uri": uri, "training_run_id": registered.run_id},
        artifacts=[model],
    )


def deploy(context: PipelineContext, progress: Progress) -> StepOutput:
    """Build the release and serve it: replacing the running deployment, or beside the live one (blue-green)."""
    from bankscore._generations import WireGeneration
    from bankscore.deploy._release import build_release

    assert context.model is not None
    params = context.params
    if params.rollout == "blue-green":
        live, new, port, keys = _blue_green_target(context, progress)
    else:
        live, new, port, keys = _replace_target(context)
    progress(f"building the release of {context.model.ref} (generation {params.generation})")
    folder = build_release(context.model.ref, generation=WireGeneration(params.generation), name=params.deployment)
    return _start(context, progress, folder, live=live, new=new, port=port, keys=keys)


def _replace_target(context: PipelineContext) -> tuple[LocalDeployment | None, str, int, list[str] | None]:
    """The running deployment (to replace), its name, the port and the keys of a ``replace`` rollout."""
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._local import DEFAULT_PORT, deployment_keys, is_running, load_state, read_keys

    params, name = context.params, context.params.deployment
    previous = load_state(name)
    if previous is not None and not is_running(previous):
        previous = None
    keys: list[str] | None
    if previous is not None:
        # Callers hold the running deployment's keys: the new one takes the same, or none if it had none.
        stored = read_keys(name)
        keys = [stored["primary"], stored["secondary"]] if previous.auth and stored else None
        context.previous_spec = _previous_spec(previous, stored.get("primary"))
    else:
        # Like `bankscore demo`: keys when nginx is there. The deployment's own keys when it has some (it may have
        # stopped or crashed): keys belong to the deployment, as on Azure, and change only when regenerated.
        keys = deployment_keys(name) if find_nginx() else None
    port = params.port or (previous.port if previous is not None else DEFAULT_PORT)
    return previous, previous.deployment if previous is not None else "blue", port, keys


def _blue_green_target(
    context: PipelineContext, progress: Progress
) -> tuple[LocalDeployment | None, str, int, list[str] | None]:
    """The live deployment (kept), the idle one to deploy to, the port and the keys of a ``blue-green`` rollout."""
    from bankscore.deploy._gateway import find_nginx
    from bankscore.deploy._local import DEFAULT_PORT, deployment_keys, is_running, load_state, read_keys
    from bankscore.deploy._state import load_endpoint
    from bankscore.pipeline._rollout import RolloutError, choose_deployments

    params, name = context.params, context.params.deployment
    endpoint = load_endpoint(name)
    live_name, new = choose_deployments(name, endpoint.traffic if endpoint is not None else None)
    if endpoint is None or live_name is None:
        keys = deployment_keys(name) if find_nginx() else None
        return None, new, params.port or DEFAULT_PORT, keys
    live = load_state(name, live_name)
    if live is None or not is_running(live):
        raise RolloutError(
            f"the live deployment {live_name!r} of endpoint {name!r} is not running, so there is nothing to compare "
            f"the new model with: redeploy it, or stop the endpoint (bankscore deploy stop --name {name}) and run again"
        )
    if params.port is not None and params.port != endpoint.port:
        raise RolloutError(
            f"pipeline parameter port={params.port}: the endpoint {name!r} listens on port {endpoint.port}, and a "
            "blue-green rollout keeps its front; leave port unset"
        )
    stored = read_keys(name)
    keys = [stored["primary"], stored["secondary"]] if endpoint.auth and stored else None
    context.live = live_name
    context.previous_spec = _previous_spec(live, stored.get("primary"))
    progress(f"{live_name!r} serves {live.model_name}:{live.model_version}; the new model goes to {new!r}")
    return live, new, endpoint.port, keys


def _start(
    context: PipelineContext,
    progress: Progress,
    folder: DeploymentFolder,
    *,
    live: LocalDeployment | None,
    new: str,
    port: int,
    keys: list[str] | None,
) -> StepOutput:
    from bankscore.deploy._local import start_local

    params = context.params
    beside = context.live is not None
    if beside:
        assert live is not None
        what = f", beside {live.deployment!r} ({live.model_name}:{live.model_version}) with 0% of the traffic"
    else:
        what = f", replacing {live.model_name}:{live.model_version}" if live is not None else ""
    progress(f"starting the new server{what}")
    state = start_local(
        folder, name=params.deployment, port=port, workers=params.workers, keys=keys, deployment=new, progress=progress
    )
    context.deployment, context.key = state, keys[0] if keys else None
    context.rolled_out = not beside  # replaced, or the endpoint's first deployment: it takes the traffic now
    return StepOutput(
        f"serving {state.model_name}:{state.model_version} as {new!r} at {state.scoring_uri}{what}",
        values={
            "scoring_uri": state.scoring_uri,
            "release": state.folder,
            "auth": str(state.auth),
            "deployment": new,
            "live_deployment": context.live or "",
        },
        artifacts=[write_json(context.run_dir / "deploy" / "deployment.json", state.to_dict())],
    )


def _previous_spec(previous: LocalDeployment, key: str | None) -> Document | None:
    """The spec the running deployment serves: pulled from it, or read from its release when it does not answer."""
    from bankscore.swagger import SwaggerError, load_document, pull_spec

    try:
        return pull_spec(previous.scoring_uri, key=key, timeout=30).document
    except SwaggerError:
        shipped = Path(previous.folder) / "swagger3.json"
        return load_document(shipped) if shipped.is_file() else None


def compare(context: PipelineContext, progress: Progress) -> StepOutput:
    """Blue-green: the live and the new deployment, side by side on labelled shipped rows, pinned by header."""
    from bankscore._compare import compare as compare_sides
    from bankscore._compare._report import render_html
    from bankscore.data import load_training_data
    from bankscore.pipeline._rollout import describe_gate

    params = context.params
    if context.live is None or context.deployment is None:
        why = "the rollout is replace" if params.rollout == "replace" else "the endpoint's first deployment"
        return StepOutput(f"nothing to compare: {why}", values={"compared": "false"})
    live, new = context.live, context.deployment.deployment
    shipped = load_training_data()
    total = min(params.compare_sample, len(shipped))
    shown = [0]

    def on_progress(done: int, of: int) -> None:
        # About ten lines per comparison: enough to see it move, few enough for the run's events.
        if done == of or done - shown[0] >= max(1, of // 10):
            shown[0] = done
            progress(f"compared {done:,} of {of:,} records")

    progress(f"replaying {total:,} labelled shipped rows (seed {params.seed}) to {live!r} and {new!r}")
    result = compare_sides(
        context.deployment.scoring_uri,
        # A list, not the generator: compare counts the records to pick its sample and to show progress.
        data=list(shipped.records(with_label=True)),
        deployments=(live, new),
        label="y",
        sample=params.compare_sample,
        seed=params.seed,
        key=context.key,
        max_disagreement=params.max_disagreement,
        max_auc_drop=params.max_auc_drop,
        max_latency_ratio=params.max_latency_ratio,
        progress=on_progress,
    )
    if result.interrupted:
        raise CanceledError("interrupted during compare")
    context.comparison = result
    out = context.run_dir / "compare"
    report = write_json(out / "compare.json", {"live": live, "new": new, **result.to_dict()})
    page = out / "compare.html"
    page.write_text(render_html(result), encoding="utf-8")
    metrics = {"records": float(result.n)}
    if result.agreement is not None:
        metrics["disagreement"] = 1 - result.agreement
    for side, name in ((result.a, "live"), (result.b, "new")):
        if side.auc is not None:
            metrics[f"auc_{name}"] = side.auc
        if side.latency_ms.p90 is not None:
            metrics[f"latency_p90_ms_{name}"] = side.latency_ms.p90
    metrics |= {gate.name: gate.value for gate in result.gates if gate.value is not None}
    verdict = (
        "every gate passed"
        if result.passed
        else "gate(s) failed: " + "; ".join(describe_gate(gate) for gate in result.failed_gates)
    )
    return StepOutput(
        f"{live!r} against {new!r} on {result.n:,} records: {verdict}",
        values={"compared": "true", "live_deployment": live, "new_deployment": new, "passed": str(result.passed)},
        metrics=metrics,
        artifacts=[report, page],
    )


def shift(context: PipelineContext, progress: Progress) -> StepOutput:
    """Blue-green: all the traffic to the new deployment when every gate passed; otherwise hold the rollout."""
    params, name = context.params, context.params.deployment
    if context.comparison is None or context.live is None or context.deployment is None:
        why = "the rollout is replace" if params.rollout == "replace" else "the endpoint's first deployment"
        return StepOutput(f"nothing to shift: {why}", values={"rolled_out": str(context.rolled_out)})
    from bankscore.deploy._routing import set_traffic
    from bankscore.deploy._state import load_endpoint
    from bankscore.pipeline._rollout import RolloutHeldError, held_reason

    live, new = context.live, context.deployment.deployment
    failed = context.comparison.failed_gates
    if failed:
        context.rolled_out = False
        raise RolloutHeldError(
            held_reason(failed, endpoint=name, live=live, new=new),
            [{"name": g.name, "value": g.value, "limit": g.limit, "detail": g.detail} for g in failed],
        )
    endpoint = load_endpoint(name)
    # A mirror to the new deployment would break Azure's rule that a mirror goes to one without live traffic.
    mirror = {new: 0} if endpoint is not None and endpoint.mirror.get(new) else None
    progress(f"every gate passed: moving the traffic to {new!r} ({live!r} keeps running at 0%)")
    changed = set_traffic(name, {new: 100, live: 0}, mirror)
    context.rolled_out = True
    return StepOutput(
        f"{new!r} takes the traffic; {live!r} keeps running at 0% "
        f"(roll back with `bankscore deploy traffic --name {name} {live}=100 {new}=0`)",
        values={"rolled_out": "True", "traffic": " ".join(f"{d}={p}" for d, p in changed.traffic.items())},
    )


def client_package_name(deployment: str) -> str:
    """An importable package name for a deployment's client: ``bank-marketing`` -> ``bank_marketing_client``.

    With ``<workspace>/clients`` on ``sys.path`` the client is then a plain ``import bank_marketing_client``.
    """
    name = re.sub(r"\W", "_", deployment).strip("_") or "deployment"
    return f"{'_' if name[0].isdigit() else ''}{name}_client"


def update_client(context: PipelineContext, progress: Progress) -> StepOutput:
    """Pull the new spec, diff it against the previous deployment's, regenerate the client when it changed."""
    from bankscore.swagger import diff_specs, dump_document, pull_spec, render_changes

    assert context.deployment is not None
    pulled = pull_spec(context.deployment.scoring_uri, key=context.key, timeout=30)
    out = context.run_dir / "update_client"
    out.mkdir(parents=True, exist_ok=True)
    new_spec = out / "openapi3.json"
    new_spec.write_bytes(dump_document(pulled.document))
    artifacts = [new_spec]
    client_dir = workspace.home() / "clients" / client_package_name(context.params.deployment)
    if context.previous_spec is None:
        context.spec_diff, context.spec_breaking = "no previous deployment to compare with", None
        changed = True
    else:
        previous = out / "previous-openapi3.json"
        previous.write_bytes(dump_document(context.previous_spec))
        context.spec_changes = diff_specs(context.previous_spec, pulled.document)
        context.spec_diff = render_changes(context.spec_changes)
        context.spec_breaking = any(c.breaking for c in context.spec_changes)
        changed = bool(context.spec_changes)
        diff = write_json(out / "spec-diff.json", [c.to_dict() for c in context.spec_changes])
        artifacts += [previous, diff]
    (out / "spec-diff.txt").write_text(context.spec_diff + "\n", encoding="utf-8")
    artifacts.append(out / "spec-diff.txt")
    if context.spec_breaking is None:
        verdict = "no previous deployment to compare with"
    elif not context.spec_changes:
        verdict = "no change to the request"
    else:
        count = len(context.spec_changes)
        verdict = f"{count} request change(s)" + (", breaking" if context.spec_breaking else ", none breaking")
    if changed or not client_dir.is_dir():
        progress(f"{verdict}: generating the client in {client_dir}")
        context.client_path = _regenerate_client(new_spec, client_dir)
        what = f"generated {client_dir}"
    else:
        what = f"the client in {client_dir} stays"
    return StepOutput(
        f"{verdict}; {what}",
        values={"spec_breaking": str(context.spec_breaking), "client": str(context.client_path or "")},
        metrics={"spec_changes": float(len(context.spec_changes))},
        artifacts=artifacts,
    )


def _regenerate_client(new_spec: Path, client_dir: Path) -> Path:
    """The typed client package for ``new_spec``, written to ``client_dir``; returns where it is."""
    from bankscore.swagger import generate_package, load_document

    return generate_package(load_document(new_spec), client_dir, source=str(new_spec)).path


# ------------------------------------------------------------------------------------------------ the steps


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: its name (in MLflow, events and REST), its function, the context it fills."""

    name: str
    run: Callable[[PipelineContext, Progress], StepOutput]
    produces: tuple[str, ...]  # the PipelineContext fields the step sets when it completes


STEPS: tuple[Step, ...] = (
    Step("register_data", register_data, produces=("dataset",)),
    Step("automl", automl, produces=("training", "report_dir")),
    Step("register_model", register_model, produces=("model",)),
    Step("deploy", deploy, produces=("deployment",)),
    Step("compare", compare, produces=()),
    Step("shift", shift, produces=("rolled_out",)),
    Step("update_client", update_client, produces=("spec_diff",)),
)
STEP_NAMES = tuple(step.name for step in STEPS)
