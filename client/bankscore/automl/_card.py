"""The model card: the document a bank's model reviewer asks for, one per registered version.

Built from the training result (data, features, metrics with 95% confidence intervals, calibration, the
threshold, the confusion matrix, the search) and written as ``model_card.json`` (for machines) and
``model_card.md`` (for people) into the run's report folder, which the registry keeps with the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import numpy as np

from bankscore.automl._artifacts import CARD_JSON, CARD_MARKDOWN
from bankscore.automl._metrics import PRIMARY_METRIC, Calibration, majority_accuracy
from bankscore.automl._search import TrainingResult
from bankscore.features import FEATURES, LABEL

__all__ = ["CARD_JSON", "CARD_MARKDOWN", "build_card", "render_card", "write_card"]

CONFIDENCE: Final = 0.95
BOOTSTRAP_RESAMPLES: Final = 400
# What the literature reports for the same data without the call's duration (Moro, Cortez and Rita 2014,
# the data set's authors): the yardstick for a realistic model.
LITERATURE_AUC_WITHOUT_DURATION: Final = 0.80

_CAVEATS: Final = (
    "The data are phone campaigns of one Portuguese bank, May 2008 to November 2010; customers, products and "
    "economic conditions elsewhere or later may differ, and the model was not validated on them.",
    "About 11% of the rows are 'yes': accuracy must be read against the 'always no' baseline given above, and "
    "the confusion matrix shows how many real 'yes' customers the 0.5 threshold finds.",
    "P(yes) is a probability, and the label is P(yes) >= 0.5; a campaign that calls the top-scored customers "
    "should rank by P(yes) rather than filter on the label.",
    "age, marital status, job and education describe people: before a decision about a person relies on the "
    "model, check its error rates per group and the bank's fair-treatment rules.",
    "'unknown' is a category of its own in several columns; a production source that fills those differently "
    "changes the input the model was trained on.",
)


def _wilson(successes: int, n: int) -> list[float]:
    from scipy.stats import binomtest

    if n == 0:
        return [float("nan"), float("nan")]
    interval = binomtest(successes, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return [float(interval.low), float(interval.high)]


def _auc_interval(truth: list[int], p_yes: list[float], seed: int) -> list[float]:
    """A percentile bootstrap interval of the ROC AUC (rows resampled with their labels)."""
    from scipy.stats import bootstrap
    from sklearn.metrics import roc_auc_score

    y, p = np.asarray(truth), np.asarray(p_yes)
    if len(set(y.tolist())) < 2:
        return [float("nan"), float("nan")]

    def auc(y_s: Any, p_s: Any) -> float:
        return float(roc_auc_score(y_s, p_s)) if 0 < y_s.sum() < len(y_s) else float("nan")

    result = bootstrap(
        (y, p),
        auc,
        paired=True,
        vectorized=False,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def _confusion(truth: list[int], p_yes: list[float], threshold: float) -> dict[str, int]:
    y = np.asarray(truth, dtype=int)
    predicted = np.asarray(p_yes) >= threshold
    return {
        "true_no": int(((y == 0) & ~predicted).sum()),
        "false_yes": int(((y == 0) & predicted).sum()),
        "false_no": int(((y == 1) & ~predicted).sum()),
        "true_yes": int(((y == 1) & predicted).sum()),
    }


def _calibration(cal: Calibration | None) -> dict[str, Any] | None:
    return cal.to_dict() if cal is not None else None


def build_card(
    result: TrainingResult,
    *,
    model_ref: str,
    dataset_ref: str,
    dataset_sha256: str,
    guard: dict[str, Any],
    threshold: float = 0.5,
) -> dict[str, Any]:
    """The card as plain data (what ``model_card.json`` holds)."""
    model, opts = result.model, result.options
    leaks = {f.wire_name: f.note for f in FEATURES if f.leaks_label}
    held: dict[str, Any] = {}
    if result.holdout_truth:
        n = len(result.holdout_truth)
        correct = round(result.holdout_metrics["accuracy"] * n)
        held = {
            "rows": n,
            "metrics": result.holdout_metrics,
            "auc_ci95": _auc_interval(result.holdout_truth, result.holdout_p_yes, opts.seed),
            "accuracy_ci95": _wilson(correct, n),
            "majority_accuracy": majority_accuracy(result.holdout_truth),
            "confusion_matrix": _confusion(result.holdout_truth, result.holdout_p_yes, threshold),
        }
    reference = None
    if "duration" in model.excluded:
        reference = {
            "auc": LITERATURE_AUC_WITHOUT_DURATION,
            "source": "Moro, Cortez and Rita (2014), the same data without the call's duration",
        }
    return {
        "model": {
            "ref": model_ref,
            "algorithm": model.algorithm,
            "members": [{"algorithm": m.algorithm, "weight": m.weight, "config": m.config} for m in model.members],
            "label": {"name": LABEL.name, "classes": list(model.classes), "positive": LABEL.positive},
        },
        "data": {
            "dataset": dataset_ref,
            "sha256": dataset_sha256,
            "train_rows": result.train_rows,
            "holdout_rows": result.holdout_rows,
            "yes_share": float(np.mean(result.oof_truth)) if result.oof_truth else None,
        },
        "features": list(model.features),
        "excluded": [
            {"name": name, "why": leaks.get(name, "excluded when the model was trained (--exclude)")}
            for name in model.excluded
        ],
        "threshold": {
            "value": threshold,
            "meaning": "the label is 'yes' when P(yes) >= the threshold, on every wire generation, as Azure's "
            "predict answers; probabilities are returned on request",
        },
        "metrics": {
            "out_of_fold": {"rows": len(result.oof_truth), "metrics": result.cv_metrics},
            "held_out": held,
            "reference": reference,
        },
        "calibration": {
            "bins": 10,
            "out_of_fold": _calibration(result.oof_calibration),
            "held_out": _calibration(result.holdout_calibration),
        },
        "search": {
            "engine": "FLAML, starting from its zero-shot configurations",
            "primary_metric": PRIMARY_METRIC,
            "time_budget_s": opts.time_budget,
            "max_trials": opts.max_trials,
            "seed": opts.seed,
            "cv_folds": opts.cv,
            "learners": list(opts.learners),
            "trials": len(result.trials),
            "wall_seconds": round(result.wall_seconds, 1),
            "ensemble": result.ensemble_note,
            "interrupted": result.interrupted,
        },
        "registration_guard": guard,
        "caveats": list(_CAVEATS),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4f}"


def _interval(pair: list[float] | None) -> str:
    return f"[{_pct(pair[0])}, {_pct(pair[1])}]" if pair else "n/a"


def render_card(card: dict[str, Any]) -> str:
    """The card as Markdown."""
    model, data, metrics = card["model"], card["data"], card["metrics"]
    lines = [
        f"# Model card: {model['ref']}",
        "",
        f"**{model['algorithm']}** predicting `{model['label']['name']}` (has the customer subscribed a term "
        f"deposit?), classes {', '.join(model['label']['classes'])}.",
        "",
        "## Data",
        "",
        f"- dataset `{data['dataset']}` (sha256 `{data['sha256'][:16]}...`)",
        f"- {data['train_rows']:,} training rows (cross-validated), {data['holdout_rows']:,} held-out rows never "
        "seen by the search",
    ]
    if data["yes_share"] is not None:
        lines.append(f"- share of 'yes' in the training rows: {data['yes_share']:.3f}")
    lines += ["", "## Features", "", f"{len(card['features'])} inputs: {', '.join(card['features'])}.", ""]
    for item in card["excluded"]:
        lines.append(f"- excluded `{item['name']}`: {item['why']}")
    held = metrics["held_out"]
    lines += ["", "## Metrics", "", "| | out of fold | held out (95% CI) |", "|---|---|---|"]
    oof = metrics["out_of_fold"]["metrics"]
    for name in ("AUC_weighted", "accuracy", "log_loss", "yes_rate"):
        held_value = _pct(held["metrics"].get(name)) if held else "n/a"
        if held and name == "AUC_weighted":
            held_value += f" {_interval(held['auc_ci95'])}"
        if held and name == "accuracy":
            held_value += f" {_interval(held['accuracy_ci95'])}"
        lines.append(f"| {name} | {_pct(oof.get(name))} | {held_value} |")
    if held:
        lines += [
            "",
            f"Always answering 'no' would score accuracy {held['majority_accuracy']:.4f} on the held-out rows.",
        ]
    if metrics["reference"]:
        ref = metrics["reference"]
        lines.append(f"For comparison, {ref['source']}: AUC about {ref['auc']:.2f}.")
    threshold = card["threshold"]
    lines += ["", "## Threshold", "", f"{threshold['value']}: {threshold['meaning']}."]
    if held:
        cm = held["confusion_matrix"]
        lines += [
            "",
            "Held-out confusion matrix:",
            "",
            "| actual \\ predicted | no | yes |",
            "|---|---|---|",
            f"| no | {cm['true_no']:,} | {cm['false_yes']:,} |",
            f"| yes | {cm['false_no']:,} | {cm['true_yes']:,} |",
        ]
    lines += ["", "## Calibration", ""]
    for where in ("out_of_fold", "held_out"):
        cal = card["calibration"][where]
        if cal is None:
            continue
        lines.append(
            f"- {where.replace('_', ' ')}: expected calibration error {cal['ece']:.4f} over {cal['rows']:,} rows"
        )
    cal = card["calibration"]["out_of_fold"] or card["calibration"]["held_out"]
    if cal:
        lines += ["", "| P(yes) bin | rows | mean P(yes) | observed 'yes' |", "|---|---|---|---|"]
        lines += [
            f"| {b['lower']:.1f}-{b['upper']:.1f} | {b['count']:,} | {b['mean_p']:.3f} | {b['observed']:.3f} |"
            for b in cal["bins"]
        ]
    search = card["search"]
    budget = f"{search['time_budget_s']:g} s" if search["time_budget_s"] else f"{search['max_trials']} trials"
    lines += [
        "",
        "## How it was found",
        "",
        f"{search['engine']}, ranked by {search['primary_metric']} with {search['cv_folds']}-fold cross-validation; "
        f"budget {budget}, seed {search['seed']}, {search['trials']} trials in {search['wall_seconds']} s; "
        f"learners {', '.join(search['learners'])}. {search['ensemble']}.",
    ]
    for member in model["members"]:
        config = json.dumps(member["config"], sort_keys=True)
        lines.append(f"- {member['algorithm']} (weight {member['weight']:.2f}): `{config}`")
    guard = card["registration_guard"]
    lines += ["", "## Registration guard", "", guard["verdict"]]
    lines += ["", "## Caveats", "", *[f"- {c}" for c in card["caveats"]], ""]
    return "\n".join(lines)


def write_card(card: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / CARD_JSON, out_dir / CARD_MARKDOWN
    json_path.write_text(json.dumps(card, indent=2) + "\n")
    md_path.write_text(render_card(card))
    return [json_path, md_path]
