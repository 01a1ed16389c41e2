"""The training report: leaderboard (table, CSV, JSON), summary JSON, calibration JSON, and the ROC curve,
confusion matrix and reliability diagram as PNGs."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bankscore.automl._metrics import METRIC_NAMES, PRIMARY_METRIC, Calibration
from bankscore.automl._search import TrainingResult

__all__ = ["render_leaderboard", "summary", "write_report"]

_SHORT = {
    "AUC_weighted": "AUC_weighted",
    "accuracy": "accuracy",
    "precision_score_weighted": "prec_w",
    "recall_score_weighted": "recall_w",
    "f1_score_weighted": "f1_w",
    "log_loss": "log_loss",
    "yes_rate": "yes_rate",
}
# The leaderboard's columns: the ranking metric, then what it cannot see (how good the probabilities are, and
# how many rows the 0.5 threshold labels "yes"), then Azure's others.
_DISPLAYED = (
    "AUC_weighted",
    "log_loss",
    "yes_rate",
    "accuracy",
    "precision_score_weighted",
    "recall_score_weighted",
    "f1_score_weighted",
)


def summary(result: TrainingResult, dataset_ref: str) -> dict[str, Any]:
    """What the run found, for people (rendered) and machines (summary.json)."""
    opts = result.options
    return {
        "dataset": dataset_ref,
        "algorithm": result.model.algorithm,
        "features": list(result.model.features),
        "excluded": list(result.model.excluded),
        "primary_metric": PRIMARY_METRIC,
        "cv_metrics": result.cv_metrics,
        "holdout_metrics": result.holdout_metrics,
        "train_rows": result.train_rows,
        "holdout_rows": result.holdout_rows,
        "trials": len(result.trials),
        "search_seconds": round(result.search_seconds, 2),
        "wall_seconds": round(result.wall_seconds, 2),
        "interrupted": result.interrupted,
        "ensemble": result.ensemble_note,
        "threshold": 0.5,
        "calibration_error": {
            "out_of_fold": result.oof_calibration.ece if result.oof_calibration else None,
            "held_out": result.holdout_calibration.ece if result.holdout_calibration else None,
        },
        "options": {
            "time_budget": opts.time_budget,
            "max_trials": opts.max_trials,
            "seed": opts.seed,
            "cv": opts.cv,
            "holdout": opts.holdout,
            "learners": list(opts.learners),
            "ensemble": opts.ensemble,
        },
    }


def render_leaderboard(leaderboard: list[dict[str, Any]], limit: int = 15) -> str:
    """A fixed-width table of the top rows, Azure's columns."""
    head = f"{'rank':>4}  {'algorithm':<20}{'iter':>5}" + "".join(f"{_SHORT[m]:>13}" for m in _DISPLAYED)
    lines = [head + f"{'time_s':>9}"]
    for row in leaderboard[:limit]:
        cells = "".join(f"{row[m]:>13.4f}" if row.get(m) is not None else f"{'':>13}" for m in _DISPLAYED)
        time_s = row.get("training_time_s")
        lines.append(
            f"{row['rank']:>4}  {row['algorithm']:<20}{row['iteration']:>5}{cells}"
            + (f"{time_s:>9.2f}" if time_s is not None else f"{'':>9}")
        )
    if len(leaderboard) > limit:
        lines.append(f"      ... {len(leaderboard) - limit} more rows in leaderboard.csv")
    return "\n".join(lines)


def write_report(result: TrainingResult, out_dir: Path, dataset_ref: str) -> dict[str, Path]:
    """Write leaderboard.csv/json, summary.json, calibration.json, roc_curve.png, confusion_matrix.png and
    calibration.png; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "leaderboard_csv": out_dir / "leaderboard.csv",
        "leaderboard_json": out_dir / "leaderboard.json",
        "summary_json": out_dir / "summary.json",
    }
    columns = ["rank", "algorithm", "iteration", *METRIC_NAMES, "training_time_s", "config"]
    with paths["leaderboard_csv"].open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in result.leaderboard:
            writer.writerow({**row, "config": json.dumps(row["config"], sort_keys=True)})
    paths["leaderboard_json"].write_text(json.dumps(result.leaderboard, indent=2))
    paths["summary_json"].write_text(json.dumps(summary(result, dataset_ref), indent=2))
    curves = {
        name: cal
        for name, cal in (("out of fold", result.oof_calibration), ("held out", result.holdout_calibration))
        if cal is not None
    }
    if curves:
        paths["calibration_json"] = out_dir / "calibration.json"
        paths["calibration_json"].write_text(json.dumps({k: v.to_dict() for k, v in curves.items()}, indent=2))
        paths["calibration_png"] = out_dir / "calibration.png"
        _reliability_plot(curves, paths["calibration_png"])
    if result.holdout_truth:
        paths["roc_curve_png"] = out_dir / "roc_curve.png"
        paths["confusion_matrix_png"] = out_dir / "confusion_matrix.png"
        _plots(result, paths["roc_curve_png"], paths["confusion_matrix_png"])
    return paths


def _reliability_plot(curves: dict[str, Calibration], path: Path) -> None:
    """Observed share of "yes" against mean P(yes) per bin: on the diagonal, P(yes) means what it says."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, cal in curves.items():
        xs = [b.mean_p for b in cal.bins]
        ys = [b.observed for b in cal.bins]
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {cal.ece:.3f}, {cal.rows:,} rows)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Mean predicted P(yes) in the bin")
    ax.set_ylabel("Observed share of 'yes'")
    ax.set_title("Reliability diagram (10 bins)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plots(result: TrainingResult, roc_path: Path, confusion_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen; never opens a window
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix, roc_curve

    truth, p_yes = result.holdout_truth, result.holdout_p_yes
    fpr, tpr, _ = roc_curve(truth, p_yes)
    auc = result.holdout_metrics[PRIMARY_METRIC]
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot(fpr, tpr, label=f"{result.model.algorithm} (AUC {auc:.4f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(f"ROC curve, {result.holdout_rows:,} held-out rows")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(roc_path)
    plt.close(fig)

    predicted = [1 if p >= 0.5 else 0 for p in p_yes]
    matrix = confusion_matrix(truth, predicted, labels=[0, 1])
    fig, ax = plt.subplots(figsize=(4.5, 4), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in [((i, j), matrix[i, j]) for i in range(2) for j in range(2)]:
        color = "white" if count > matrix.max() / 2 else "black"
        ax.text(j, i, f"{count:,}", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], labels=["no", "yes"])
    ax.set_yticks([0, 1], labels=["no", "yes"])
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    ax.set_title("Confusion matrix (held-out rows)")
    fig.tight_layout()
    fig.savefig(confusion_path)
    plt.close(fig)
