"""AutoML on FLAML: rank learners by AUC_weighted with k-fold cross-validation, then ensemble when it helps.

The search runs FLAML's AutoML, starting each learner from FLAML's zero-shot configuration for data of this
shape, with a custom metric so that every trial records Azure's metrics (AUC_weighted, accuracy, weighted
precision/recall/F1, log loss) and the share of "yes" labels, averaged over the folds. After the search, the
best configuration of each of the top learners is scored out of fold, and a soft-voting ensemble is built by
greedy ensemble selection (Caruana et al. 2004, the method behind Azure's VotingEnsemble); it is kept only when
out of fold it beats the best single model on AUC and is not worse on log loss. The chosen model's out-of-fold
predictions are kept for its calibration and the registration guard.
"""

from __future__ import annotations

import contextlib
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np
from flaml import AutoML
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from bankscore._exceptions import BankscoreError
from bankscore.automl._metrics import PRIMARY_METRIC, Calibration, calibration, classification_metrics
from bankscore.automl._model import BankMarketingModel, Member
from bankscore.data import Dataset
from bankscore.features import FEATURE_NAMES, LABEL

__all__ = [
    "DEFAULT_TIME_BUDGET",
    "LEARNERS",
    "Progress",
    "TrainOptions",
    "TrainingResult",
    "Trial",
    "keep_ensemble",
    "run_automl",
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
ENSEMBLE_SHARE = 0.15  # of the budget kept back for out-of-fold scoring of the ensemble candidates
ENSEMBLE_CANDIDATES = 3
ENSEMBLE_ROUNDS = 20
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


class _StopFlag:
    """Ctrl-C asks the search to stop after the current trial; a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no Ctrl-C to catch
            self._previous = None
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def _no_memory_probe() -> Iterator[None]:
    """Keep FLAML from sizing tree ensembles by the machine's free memory.

    For learners without callbacks (random forest, extra trees) FLAML reads the system-wide available memory
    before and after a short fit and may cut ``n_estimators`` accordingly; another process allocating memory
    meanwhile then changes the trained model, which broke same-seed reproducibility on a busy machine. FLAML
    skips the probe when its module-level ``psutil`` is None.
    """
    import flaml.automl.model as flaml_model

    saved = flaml_model.psutil
    flaml_model.psutil = None
    try:
        yield
    finally:
        flaml_model.psutil = saved


class _ReportingAutoML(AutoML):  # type: ignore[misc]  # FLAML ships no type information
    """FLAML's AutoML with a hook after every trial: record it, report progress, honour a stop request.

    ``_log_trial`` is FLAML's own per-trial hook (called for every trial with ``log_type="all"``); the
    dependency pins FLAML to a minor version because of it.
    """

    def __init__(self, on_trial: Callable[[Any, str], None], stop: _StopFlag) -> None:
        super().__init__()
        self._on_trial = on_trial
        self._stop = stop

    def _log_trial(self, search_state: Any, estimator: str) -> None:
        self._on_trial(search_state, estimator)
        if self._stop.requested:
            # FLAML leaves its search loop when the time used reaches the budget; it then retrains the best.
            self._state.time_budget = 0


def _azure_metric(  # FLAML calls custom metrics with this positional signature
    X_val: Any,  # noqa: N803 - FLAML's parameter names
    y_val: Any,
    estimator: Any,
    labels: Any,
    X_train: Any,  # noqa: N803
    y_train: Any,
    *args: Any,
    **kwargs: Any,
) -> tuple[float, dict[str, float]]:
    """FLAML custom metric: minimise 1 - AUC, and log Azure's metrics for the leaderboard."""
    p_yes = estimator.predict_proba(X_val)[:, 1]
    metrics = classification_metrics(y_val, p_yes)
    return 1.0 - metrics[PRIMARY_METRIC], metrics


def _check(dataset: Dataset, options: TrainOptions) -> None:
    unknown = [c for c in options.exclude if c not in FEATURE_NAMES]
    if unknown:
        raise BankscoreError(
            f"--exclude {', '.join(unknown)}: not a Bank Marketing feature; the features are {', '.join(FEATURE_NAMES)}"
        )
    if not options.features:
        raise BankscoreError("--exclude removes every feature; at least one must remain")
    if not dataset.has_label:
        raise BankscoreError(f"{dataset.source} has no label column {LABEL.name!r}; training needs it")
    bad_learners = [name for name in options.learners if name not in LEARNERS]
    if bad_learners:
        raise BankscoreError(f"unknown learner {', '.join(bad_learners)}; choose from {', '.join(LEARNERS)}")
    if options.cv < 2:
        raise BankscoreError(f"--cv {options.cv}: cross-validation needs at least 2 folds")
    if not 0 <= options.holdout < 0.9:
        raise BankscoreError(f"--holdout {options.holdout}: must be at least 0 and below 0.9")
    if options.time_budget is None and options.max_trials is None:
        raise BankscoreError("give a time budget or a number of trials")
    if options.time_budget is not None and options.time_budget < MIN_TIME_BUDGET:
        raise BankscoreError(
            f"--time-budget {options.time_budget:g}: too small to fit one model with {options.cv}-fold "
            f"cross-validation; give at least {MIN_TIME_BUDGET:g} seconds"
        )
    positives = dataset.labels.count(LABEL.positive)
    if min(positives, len(dataset) - positives) < options.cv * 2:
        raise BankscoreError(
            f"{dataset.source}: {positives} '{LABEL.positive}' rows of {len(dataset)} are too few for "
            f"{options.cv}-fold cross-validation with a held-out split"
        )


def run_automl(
    dataset: Dataset,
    options: TrainOptions | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> TrainingResult:
    """Search, pick the best model (an ensemble when it helps), and score it on the held-out rows."""
    options = options or TrainOptions()
    _check(dataset, options)
    started = time.monotonic()
    x_train, y_train, x_hold, y_hold = _split(dataset, options)

    trials: list[Trial] = []

    def on_trial(state: Any, learner: str) -> None:
        metrics = dict(state.metric_for_logging or {})
        metrics.pop("pred_time", None)
        trial = Trial(
            number=len(trials) + 1,
            learner=learner,
            metrics={k: float(v) for k, v in metrics.items()},
            training_time=float(state.trial_time),
            elapsed=time.monotonic() - started,
            config={k: _plain(v) for k, v in (state.config or {}).items()},
        )
        trials.append(trial)
        if progress:
            best = _best_trial(trials)
            left = None if search_budget is None else max(0.0, search_budget - (time.monotonic() - search_start))
            trials_left = None if options.max_trials is None else options.max_trials - len(trials)
            progress(Progress(trial, best, left, trials_left))

    search_budget = None
    if options.time_budget is not None:
        share = ENSEMBLE_SHARE if options.ensemble and len(options.learners) > 1 else 0.0
        search_budget = options.time_budget * (1 - share)
    search_start = time.monotonic()
    # FLAML and its learners warn about their own dependencies (pandas deprecations, feature names); the
    # user sees bankscore's progress instead, and our tests turn any warning from our own code into an error.
    with _StopFlag() as stop, warnings.catch_warnings(), _no_memory_probe():
        warnings.simplefilter("ignore")
        automl = _ReportingAutoML(on_trial, stop)
        automl.fit(
            x_train,
            y_train,
            task="classification",
            metric=_azure_metric,
            eval_method="cv",
            n_splits=options.cv,
            split_type="stratified",
            time_budget=search_budget if search_budget is not None else -1,
            max_iter=options.max_trials,
            estimator_list=list(options.learners),
            seed=options.seed,
            n_jobs=_jobs(options),
            verbose=0,
            log_type="all",
            log_file_name="",
            mlflow_logging=False,
            retrain_full=True,
            # Round robin keeps the learner order independent of timing, so a trial count is reproducible.
            learner_selector="roundrobin" if options.reproducible else "sample",
            starting_points=_starting_points(x_train, y_train, options),
        )
        search_seconds = time.monotonic() - search_start
        interrupted = stop.requested
    if automl.best_estimator is None or automl.model is None or not trials:
        raise BankscoreError(
            "the search ended before any model was fitted; give a larger --time-budget (or more --max-trials)"
        )

    with warnings.catch_warnings(), _no_memory_probe():
        warnings.simplefilter("ignore")
        members, cv_metrics, note, oof = _choose_members(
            automl, trials, options, interrupted=interrupted, x_train=x_train, y_train=y_train, started=started
        )
    model = BankMarketingModel(
        features=options.features,
        excluded=tuple(name for name in FEATURE_NAMES if name in options.exclude),
        members=members,
        task=automl._state.task,
        transformer=automl._transformer,
        algorithm="VotingEnsemble" if len(members) > 1 else members[0].algorithm,
    )
    result = TrainingResult(
        model=model,
        options=options,
        trials=trials,
        leaderboard=[],
        cv_metrics=cv_metrics,
        train_rows=len(x_train),
        train_yes_share=float(np.mean(np.asarray(y_train, dtype=int))),
        search_seconds=search_seconds,
        interrupted=interrupted,
        ensemble_note=note,
    )
    if oof is not None:
        result.oof_truth = [int(v) for v in np.asarray(y_train, dtype=int)]
        result.oof_p_yes = [float(v) for v in oof]
    if x_hold is not None and y_hold is not None:
        p_yes = model.predict_proba(x_hold)[:, 1]
        result.holdout_metrics = classification_metrics(y_hold, p_yes)
        result.holdout_truth = [int(v) for v in y_hold]
        result.holdout_p_yes = [float(v) for v in p_yes]
        result.holdout_rows = len(x_hold)
    result.leaderboard = _leaderboard(trials, model, cv_metrics)
    result.wall_seconds = time.monotonic() - started
    return result


# Learners whose search starts from FLAML's zero-shot configuration rather than from its cheapest one.
ZERO_SHOT_LEARNERS = ("lgbm",)


def _starting_points(x_train: Any, y_train: Any, options: TrainOptions) -> dict[str, Any]:
    """LightGBM's first trial is the configuration FLAML's zero-shot portfolio (learned on many tabular data
    sets) suggests for data of this size and shape, instead of the 4-tree model its cost-frugal search starts
    from: a busy machine that affords few trials still gets a strong model, and the search explores around it.

    Only LightGBM: it is the strongest learner on this data and its suggestion fits in seconds, while the
    suggestions for XGBoost and the forests (hundreds of trees, a thousand leaves) cost minutes of a 2-core
    machine's budget under 5-fold CV; those learners keep FLAML's cheap start.
    """
    from flaml.default import suggest_config

    points: dict[str, Any] = {}
    for learner in ZERO_SHOT_LEARNERS:
        if learner in options.learners:
            suggested = suggest_config("classification", x_train, y_train, learner, None, k=1)
            points[learner] = [config["hyperparameters"] for config in suggested]
    return points


def _split(dataset: Dataset, options: TrainOptions) -> tuple[Any, Any, Any, Any]:
    """Features and 0/1 label, with a stratified held-out share when asked."""
    frame = dataset.to_pandas()
    x_all = frame[list(options.features)]
    y_all = (frame[LABEL.name] == LABEL.positive).astype(int)
    if options.holdout <= 0:
        return x_all, y_all, None, None
    x_train, x_hold, y_train, y_hold = train_test_split(
        x_all, y_all, test_size=options.holdout, stratify=y_all, random_state=options.seed
    )
    return x_train, y_train, x_hold, y_hold


def _choose_members(
    automl: AutoML,
    trials: list[Trial],
    options: TrainOptions,
    *,
    interrupted: bool,
    x_train: Any,
    y_train: Any,
    started: float,
) -> tuple[list[Member], dict[str, float], str, np.ndarray[Any, Any] | None]:
    """The best single model, or a VotingEnsemble when it beats it out of fold; and the chosen one's
    out-of-fold P(yes) (None when Ctrl-C asked to finish at once)."""
    best_single = Member(LEARNERS[automl.best_estimator], 1.0, automl.model, dict(automl.best_config))
    if interrupted:
        return [best_single], _best_trial(trials).metrics, "search stopped by Ctrl-C: no ensemble", None
    x = automl._state.task.preprocess(x_train, automl._transformer)
    y = np.asarray(y_train, dtype=int)
    folds = list(StratifiedKFold(options.cv, shuffle=True, random_state=options.seed).split(x, y))
    if not options.ensemble or len(automl.best_config_per_estimator) < 2:
        note = "ensembling switched off" if not options.ensemble else "one learner: no ensemble"
        oof = _out_of_fold(automl, automl.best_estimator, x=x, y=y, folds=folds, options=options)
        return [best_single], classification_metrics(y, oof), note, oof
    return _ensemble(
        automl,
        options=options,
        best_single=best_single,
        x=x,
        y=y,
        folds=folds,
        deadline=None if options.time_budget is None else started + options.time_budget,
    )


def _jobs(options: TrainOptions) -> int:
    """One thread per learner when the run must be reproducible: with several threads, the order in which
    partial sums meet can change the last bits of a split score, and with them, rarely, a split."""
    return 1 if options.reproducible else options.n_jobs


def _best_trial(trials: list[Trial]) -> Trial:
    return max(trials, key=lambda t: t.metrics.get(PRIMARY_METRIC, 0.0))


def _plain(value: Any) -> Any:
    """numpy scalars to Python ones, for JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _fit(automl: AutoML, learner: str, *, config: dict[str, Any], x: Any, y: Any, n_jobs: int) -> Any:
    params = {k: v for k, v in config.items() if not k.startswith("FLAML_")}
    estimator = automl._state.learner_classes[learner](task=automl._state.task, n_jobs=n_jobs, **params)
    estimator.fit(x, y)
    return estimator


def _out_of_fold(
    automl: AutoML, learner: str, *, x: Any, y: np.ndarray[Any, Any], folds: list[Any], options: TrainOptions
) -> np.ndarray[Any, Any]:
    """P(yes) of the learner's best configuration for every training row, from the fold that did not fit it."""
    # FLAML reports an empty best configuration as None: the learner's defaults, as it fitted them.
    config = automl.best_config_per_estimator.get(learner) or {}
    predictions = np.zeros(len(y))
    for train_idx, val_idx in folds:
        est = _fit(automl, learner, config=config, x=x.iloc[train_idx], y=y[train_idx], n_jobs=_jobs(options))
        predictions[val_idx] = est.predict_proba(x.iloc[val_idx])[:, 1]
    return predictions


def keep_ensemble(ensemble: dict[str, float], single: dict[str, float], *, learners_used: int) -> bool:
    """The ensemble rule, on out-of-fold metrics: a real blend that ranks better and is no worse calibrated."""
    return (
        learners_used >= 2
        and ensemble[PRIMARY_METRIC] > single[PRIMARY_METRIC]
        and ensemble["log_loss"] <= single["log_loss"]
    )


def _ensemble(
    automl: AutoML,
    *,
    options: TrainOptions,
    best_single: Member,
    x: Any,
    y: np.ndarray[Any, Any],
    folds: list[Any],
    deadline: float | None,
) -> tuple[list[Member], dict[str, float], str, np.ndarray[Any, Any]]:
    """Greedy soft-voting ensemble over the best configuration of the top learners, kept only if it helps.

    Kept only when, out of fold, it ranks better (higher AUC) *and* states its probabilities no worse (log loss
    not higher) than the best single model: AUC alone would keep a blend that ranks well and decides badly.
    """
    losses = automl.best_loss_per_estimator
    ranked = sorted((name for name in losses if np.isfinite(losses[name])), key=lambda name: losses[name])
    candidates = [automl.best_estimator, *(name for name in ranked if name != automl.best_estimator)]
    candidates = candidates[:ENSEMBLE_CANDIDATES]
    oof: dict[str, np.ndarray[Any, Any]] = {}
    for learner in candidates:
        if oof and deadline is not None and time.monotonic() > deadline:
            break  # out of budget: blend the candidates scored so far (the best single is always scored)
        oof[learner] = _out_of_fold(automl, learner, x=x, y=y, folds=folds, options=options)
    best = automl.best_estimator if automl.best_estimator in oof else next(iter(oof))
    single_metrics = classification_metrics(y, oof[best])
    if len(oof) < 2:
        return [best_single], single_metrics, "out of time before a second learner was scored: no ensemble", oof[best]
    candidates = list(oof)
    counts = dict.fromkeys(candidates, 0)
    blend = np.zeros(len(y))
    for step in range(1, ENSEMBLE_ROUNDS + 1):
        scores = {name: float(roc_auc_score(y, (blend * (step - 1) + oof[name]) / step)) for name in candidates}
        chosen = max(scores, key=lambda name: scores[name])
        counts[chosen] += 1
        blend = (blend * (step - 1) + oof[chosen]) / step
    ensemble_metrics = classification_metrics(y, blend)
    used = {name: n for name, n in counts.items() if n}
    ens_auc, single_auc = ensemble_metrics[PRIMARY_METRIC], single_metrics[PRIMARY_METRIC]
    ens_loss, single_loss = ensemble_metrics["log_loss"], single_metrics["log_loss"]
    versus = (
        f"out-of-fold AUC {ens_auc:.4f} vs best single {single_auc:.4f}, log loss {ens_loss:.4f} vs {single_loss:.4f}"
    )
    if not keep_ensemble(ensemble_metrics, single_metrics, learners_used=len(used)):
        return [best_single], single_metrics, f"ensemble not kept: {versus}", oof[best]
    members = [
        Member(
            LEARNERS[name],
            n / ENSEMBLE_ROUNDS,
            _fit(automl, name, config=automl.best_config_per_estimator[name] or {}, x=x, y=y, n_jobs=_jobs(options)),
            {k: _plain(v) for k, v in (automl.best_config_per_estimator[name] or {}).items()},
        )
        for name, n in used.items()
    ]
    weights = ", ".join(f"{LEARNERS[name]} {n / ENSEMBLE_ROUNDS:.2f}" for name, n in used.items())
    return members, ensemble_metrics, f"VotingEnsemble kept: {versus} (weights {weights})", blend


def _leaderboard(trials: list[Trial], model: BankMarketingModel, cv_metrics: dict[str, float]) -> list[dict[str, Any]]:
    """Every trial (and the ensemble) ranked by cross-validated AUC_weighted, Azure's leaderboard columns."""
    rows: list[dict[str, Any]] = [
        {
            "algorithm": t.algorithm,
            "iteration": t.number,
            **{name: t.metrics.get(name) for name in cv_metrics},
            "training_time_s": round(t.training_time, 3),
            "config": t.config,
        }
        for t in trials
    ]
    if model.algorithm == "VotingEnsemble":
        rows.append(
            {
                "algorithm": "VotingEnsemble",
                "iteration": len(trials) + 1,
                **cv_metrics,
                "training_time_s": None,
                "config": {m.algorithm: round(m.weight, 3) for m in model.members},
            }
        )
    rows.sort(key=lambda r: -(r.get(PRIMARY_METRIC) or 0.0))
    return [{"rank": i, **row} for i, row in enumerate(rows, start=1)]
