"""``bankscore train`` and ``bankscore models``: AutoML on a registered dataset, and the model registry."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from bankscore.cli._extras import require_extra
from bankscore.features import FEATURE_NAMES

__all__ = ["models", "print_progress", "print_training", "train"]


def print_progress(progress: Any) -> None:
    trial, best = progress.trial, progress.best
    left = []
    if progress.time_left is not None:
        left.append(f"{progress.time_left:5.0f}s left")
    if progress.trials_left is not None:
        left.append(f"{progress.trials_left} trials left")
    click.echo(
        f"trial {trial.number:>3}  {trial.algorithm:<20} AUC_weighted {trial.metrics.get('AUC_weighted', 0):.4f}  "
        f"best {best.metrics.get('AUC_weighted', 0):.4f} ({best.algorithm})  {', '.join(left)}",
        err=True,
    )


@click.command()
@click.option("--dataset", "dataset_ref", metavar="NAME[:VERSION]", help="Registered dataset (default: the latest).")
@click.option(
    "--time-budget",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Search budget in seconds, ensembling included (default 150). Loading, the hold-out scoring, the "
    "report and the registration come on top: on a busy machine the whole run can take minutes longer.",
)
@click.option("--max-trials", type=click.IntRange(min=1), help="Stop after N trials (alone: exactly reproducible).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for splits, search and learners.")
@click.option("--exclude", multiple=True, metavar="COLUMN", help="Train without this feature (repeatable).")
@click.option("--cv", type=int, default=5, show_default=True, help="Cross-validation folds.")
@click.option("--holdout", type=float, default=0.2, show_default=True, help="Stratified share held out for the report.")
@click.option("--learner", "learners", multiple=True, help="Learner to try (repeatable; default: all five).")
@click.option("--no-ensemble", is_flag=True, help="Never build a VotingEnsemble.")
@click.option(
    "--force",
    is_flag=True,
    help="Register the model even if it labels every row alike or is no more accurate than always saying 'no'.",
)
@click.option("--output", type=click.Path(path_type=Path), help="Report folder (default: the workspace's runs/).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def train(
    dataset_ref: str | None,
    time_budget: float | None,
    max_trials: int | None,
    seed: int,
    exclude: tuple[str, ...],
    cv: int,
    holdout: float,
    learners: tuple[str, ...],
    no_ensemble: bool,
    force: bool,
    output: Path | None,
    as_json: bool,
) -> None:
    """AutoML: rank LightGBM, XGBoost, random forest, extra trees and logistic regression by AUC_weighted.

    Trains on a registered dataset (registering the shipped training set first if none is), logs the run to
    MLflow and registers the best model (a VotingEnsemble when it helps) as a new version of bank-marketing,
    with a model card. A model that labels every row alike, or is no more accurate than always saying "no"
    (judged out of fold), is not registered unless --force. Ctrl-C stops the search after the current trial and
    registers the best model found so far.
    """
    require_extra("train")
    from bankscore.automl import DEFAULT_TIME_BUDGET, LEARNERS, TrainOptions
    from bankscore.automl._workflow import train_and_register
    from bankscore.data import get_dataset, list_datasets, register_dataset

    unknown = [c for c in exclude if c not in FEATURE_NAMES]
    if unknown:  # say so before anything slow happens
        raise click.BadParameter(
            f"{', '.join(unknown)} is not a Bank Marketing feature; choose from {', '.join(FEATURE_NAMES)}",
            param_hint="--exclude",
        )
    if dataset_ref is None and not list_datasets():
        version, _ = register_dataset()
        click.echo(f"registered the shipped training set as {version.ref}", err=True)
    version = get_dataset(dataset_ref)
    if time_budget is None and max_trials is None:
        time_budget = DEFAULT_TIME_BUDGET
    options = TrainOptions(
        time_budget=time_budget,
        max_trials=max_trials,
        seed=seed,
        cv=cv,
        exclude=tuple(exclude),
        holdout=holdout,
        ensemble=not no_ensemble,
        learners=tuple(learners) or tuple(LEARNERS),
    )
    budget = f"{time_budget:g}s" if time_budget is not None else f"{max_trials} trials"
    click.echo(f"AutoML on {version.ref} ({version.rows:,} rows), {cv}-fold CV, budget {budget}, seed {seed}", err=True)
    trained = train_and_register(version, options, progress=print_progress, report_dir=output, force=force)
    if trained.result.interrupted:
        click.echo("stopped by Ctrl-C: keeping the best model found so far", err=True)
    if as_json:
        click.echo(json.dumps(trained.summary, indent=2))
        return
    print_training(trained)


def print_training(trained: Any) -> None:
    """The leaderboard and the chosen model, for people."""
    from bankscore.automl._report import render_leaderboard

    result, registered, report_dir = trained.result, trained.registered, trained.report_dir
    click.echo(render_leaderboard(result.leaderboard))
    click.echo("")
    click.echo(f"model      {registered.ref}  {result.model.algorithm}  ({result.ensemble_note})")
    click.echo(
        f"features   {len(result.model.features)}"
        + (f", excluded {', '.join(result.model.excluded)}" if result.model.excluded else "")
    )
    cv, oof_cal = result.cv_metrics, result.oof_calibration
    click.echo(
        f"CV         AUC_weighted {cv['AUC_weighted']:.4f}  accuracy {cv['accuracy']:.4f}  "
        f"log loss {cv['log_loss']:.4f}  'yes' {cv.get('yes_rate', 0):.1%}"
        + (f"  calibration error {oof_cal.ece:.4f}" if oof_cal else "")
    )
    if result.holdout_metrics:
        h, held_cal = result.holdout_metrics, result.holdout_calibration
        click.echo(
            f"held out   AUC_weighted {h['AUC_weighted']:.4f}  accuracy {h['accuracy']:.4f}  "
            f"log loss {h['log_loss']:.4f}  'yes' {h.get('yes_rate', 0):.1%}"
            + (f"  calibration error {held_cal.ece:.4f}" if held_cal else "")
            + f"  ({result.holdout_rows:,} rows never seen)"
        )
    click.echo(f"label      'yes' when P(yes) >= 0.5; guard {trained.guard.verdict}")
    click.echo(f"time       {result.wall_seconds:.1f}s wall, {len(result.trials)} trials")
    click.echo(f"report     {report_dir}  (model card: bankscore models card {registered.ref})")


def _model_line(v: Any) -> str:
    auc = v.metrics.get("cv_AUC_weighted")
    hold = v.metrics.get("holdout_AUC_weighted")
    created = datetime.fromtimestamp(v.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return (
        f"{v.ref:<20}{v.algorithm:<20}"
        + (f"cv AUC {auc:.4f}  " if auc is not None else "")
        + (f"held-out AUC {hold:.4f}  " if hold is not None else "")
        + f"{len(v.features)} features  {v.dataset}  {created}"
    )


@click.group()
def models() -> None:
    """The model registry (MLflow): registered versions of bank-marketing."""


@models.command("list")
@click.option("--name", default="bank-marketing", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models_list(name: str, as_json: bool) -> None:
    """Every registered version."""
    require_extra("train")
    from bankscore.automl._versions import list_model_versions

    versions = list_model_versions(name)
    if as_json:
        click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
    elif not versions:
        click.echo(f"no versions of {name} yet: `bankscore train`")
    else:
        for v in versions:
            click.echo(_model_line(v))


@models.command("show")
@click.argument("ref", metavar="NAME[:VERSION]", default="bank-marketing")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def models_show(ref: str, as_json: bool) -> None:
    """One version: algorithm, features, metrics, dataset, training time."""
    require_extra("train")
    from bankscore.automl._versions import get_model_version

    v = get_model_version(ref)
    if as_json:
        click.echo(json.dumps(v.to_dict(), indent=2))
        return
    click.echo(_model_line(v))
    click.echo(f"features  {', '.join(v.features)}")
    if v.excluded:
        click.echo(f"excluded  {', '.join(v.excluded)}")
    for key, value in sorted(v.metrics.items()):
        click.echo(f"  {key:<34}{value:.4f}")
    click.echo(f"training  {v.training_seconds:.1f}s   run {v.run_id}")
    click.echo(f"source    {v.source}")
    sys.stdout.flush()


@models.command("card")
@click.argument("ref", metavar="NAME[:VERSION]", default="bank-marketing")
@click.option("--json", "as_json", is_flag=True, help="Print the card as JSON.")
def models_card(ref: str, as_json: bool) -> None:
    """The model card of one version: data, features, metrics with confidence intervals, calibration,
    threshold, confusion matrix, the search and the caveats (Markdown, or JSON)."""
    require_extra("train")
    from bankscore._exceptions import BankscoreError
    from bankscore.automl._artifacts import CARD_JSON, CARD_MARKDOWN, REPORT_ARTIFACT_DIR
    from bankscore.automl._versions import get_model_version, run_artifact_text

    v = get_model_version(ref)
    text = run_artifact_text(v.run_id, f"{REPORT_ARTIFACT_DIR}/{CARD_JSON if as_json else CARD_MARKDOWN}")
    if text is None:
        raise BankscoreError(
            f"{v.ref} has no model card: it was registered before bankscore wrote them. "
            "`bankscore models show` has its metrics; retrain to get a card"
        )
    click.echo(text.rstrip("\n"))
