"""What a training run is asked to do and what it returns: options, trials, progress and the result."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bankscore.automl._metrics import PRIMARY_METRIC, Calibration, calibration
from bankscore.automl._model import BankMarketingModel
from bankscore.features import FEATURE_NAMES

__all__ = [
    "DEFAULT_TIME_BUDGET",
    "LEARNERS",
    "MIN_TIME_BUDGET",
    "Progress",
    "TrainOptions",
    "TrainingResult",
    "Trial",
    "best_trial",
    "plain",
    "threads_resolved",
]

# FLAML's learner names and the names Azure AutoML's leaderboard uses for the same families.
LEARNERS: dict[str, str] = {
    "lgbm": "LightGBM",
    "xgboost": "XGBoostClassifier",
    "rf": "RandomForest",
    "extra_tree": "ExtremeRandomTrees",
    "lrl1": "LogisticRegression",
}
DEFAULT_TIME_BUDGET = 150.0  # seconds, ensembling included; the whole default run stays under 180 s on 2 cores
MIN_TIME_BUDGET = 5.0


@dataclass(frozen=True)
class TrainOptions:
    """How to search. With ``max_trials`` and no ``time_budget`` the search is exactly reproducible."""

    time_budget: float | None = DEFAULT_TIME_BUDGET
    max_trials: int | None = None
    seed: int = 0
    cv: int = 5
    exclude: tuple[str, ...] = ()
    holdout: float = 0.2
    ensemble: bool = True
    learners: tuple[str, ...] = tuple(LEARNERS)
    n_jobs: int = -1

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(name for name in FEATURE_NAMES if name not in self.exclude)

    @property
    def reproducible(self) -> bool:
        return self.time_budget is None and self.max_trials is not None


@dataclass(frozen=True)
class Trial:
    number: int
    learner: str
    metrics: dict[str, float]
    training_time: float
    elapsed: float
    config: dict[str, Any]

    @property
    def algorithm(self) -> str:
        return LEARNERS.get(self.learner, self.learner)


@dataclass(frozen=True)
class Progress:
    trial: Trial
    best: Trial
    time_left: float | None
    trials_left: int | None


@dataclass
class TrainingResult:
    model: BankMarketingModel
    options: TrainOptions
    trials: list[Trial]
    leaderboard: list[dict[str, Any]]
    cv_metrics: dict[str, float]  # of the chosen model (ensemble or best single), out-of-fold / cross-validated
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    holdout_truth: list[int] = field(default_factory=list)
    holdout_p_yes: list[float] = field(default_factory=list)
    train_rows: int = 0
    holdout_rows: int = 0
    search_seconds: float = 0.0
    wall_seconds: float = 0.0
    interrupted: bool = False
    ensemble_note: str = ""
    # The chosen model's out-of-fold P(yes) on the training rows (empty when Ctrl-C cut the run short): what
    # the calibration and the registration guard are judged on, never on rows the search used to fit.
    oof_truth: list[int] = field(default_factory=list)
    oof_p_yes: list[float] = field(default_factory=list)
    train_yes_share: float = 0.0

    @property
    def oof_calibration(self) -> Calibration | None:
        return calibration(self.oof_truth, self.oof_p_yes) if self.oof_truth else None

    @property
    def holdout_calibration(self) -> Calibration | None:
        return calibration(self.holdout_truth, self.holdout_p_yes) if self.holdout_truth else None


def threads_resolved(options: TrainOptions, busy_share: Callable[[], float] | None = None) -> TrainOptions:
    """The options with the threads every fit of the run uses: one for a reproducible run, and ``n_jobs=-1``
    (every core) resolved to the cores other work leaves free, at least one; a chosen count stays.

    One thread when the run must be reproducible: with several, the order in which partial sums meet can
    change the last bits of a split score, and with them, rarely, a split.

    Free cores otherwise: LightGBM and XGBoost synchronise their OpenMP threads at every tree level, and a
    thread that waits spins. On a machine whose cores other processes already use, two threads per fit were
    measured up to 9 times slower than one (a 5-fold CV of FLAML's zero-shot LightGBM beside other CPU-bound
    work on 2 cores: 340 s against 38 s), so a busy machine bought a handful of trials and a weak model. The
    share of busy CPU is sampled for half a second before the search.
    """
    if options.reproducible:
        return options if options.n_jobs == 1 else replace(options, n_jobs=1)
    if options.n_jobs != -1:
        return options
    cores = os.cpu_count() or 1
    share = (busy_share or _busy_share)()
    free = max(1, min(cores, round(cores * (1.0 - share))))
    return replace(options, n_jobs=free)


def _busy_share() -> float:
    import psutil

    return float(psutil.cpu_percent(interval=0.5)) / 100.0


def best_trial(trials: list[Trial]) -> Trial:
    return max(trials, key=lambda t: t.metrics.get(PRIMARY_METRIC, 0.0))


def plain(value: Any) -> Any:
    """numpy scalars to Python ones, for JSON."""
    return value.item() if isinstance(value, np.generic) else value
