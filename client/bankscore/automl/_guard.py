"""The registration guard: a model that labels everyone alike, or no better than always saying "no", is not
registered (and so not deployed) unless the user insists.

It judges the chosen model's out-of-fold predictions on the training rows (the cross-validated trial metrics
when Ctrl-C cut the run short), never the rows the model was fitted on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bankscore._exceptions import BankscoreError
from bankscore.automl._metrics import majority_accuracy
from bankscore.automl._search import TrainingResult

__all__ = ["DegenerateModelError", "GuardVerdict", "check_registrable"]


class DegenerateModelError(BankscoreError):
    """The trained model would label every customer alike, or is no more accurate than always saying "no"."""


@dataclass(frozen=True)
class GuardVerdict:
    passed: bool
    evidence: str  # which predictions were judged
    yes_rate: float  # the share of rows labelled "yes"
    accuracy: float
    majority_accuracy: float  # what always answering the majority class scores on the same rows
    reason: str  # why it failed; empty when it passed
    forced: bool = False

    @property
    def verdict(self) -> str:
        figures = (
            f"{self.evidence}: {self.yes_rate:.1%} of rows labelled 'yes', accuracy {self.accuracy:.4f} against "
            f"{self.majority_accuracy:.4f} for always answering the majority class"
        )
        if self.passed:
            return f"passed ({figures})"
        return f"{'failed, registered with --force' if self.forced else 'failed'}: {self.reason} ({figures})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def check_registrable(result: TrainingResult) -> GuardVerdict:
    """Whether ``result``'s model may be registered: it must label some rows "yes" and some "no", and beat the
    majority-class baseline on accuracy."""
    metrics = result.cv_metrics
    if result.oof_truth:
        evidence, baseline = "out of fold", majority_accuracy(result.oof_truth)
    else:
        evidence, baseline = "cross-validated trials", max(result.train_yes_share, 1 - result.train_yes_share)
    yes_rate, accuracy = float(metrics.get("yes_rate", 0.0)), float(metrics.get("accuracy", 0.0))
    reason = ""
    if yes_rate <= 0.0 or yes_rate >= 1.0:
        reason = f"it labels every row '{'yes' if yes_rate >= 1.0 else 'no'}'"
    elif accuracy <= baseline:
        reason = "its accuracy is not above always answering the majority class"
    return GuardVerdict(not reason, evidence, yes_rate, accuracy, baseline, reason)
