"""Out-of-fold predictions and the VotingEnsemble: greedy ensemble selection, kept only when it helps.

Greedy ensemble selection (Caruana et al. 2004) is the method behind Azure's VotingEnsemble. Every learner's
best configuration is refitted fold by fold, so the blend is judged on predictions for rows its members did
not see.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from flaml import AutoML
from sklearn.metrics import roc_auc_score

from bankscore.automl._flaml import learner_class, task_of
from bankscore.automl._metrics import PRIMARY_METRIC, classification_metrics
from bankscore.automl._model import Member
from bankscore.automl._training import LEARNERS, TrainOptions, plain

__all__ = ["ENSEMBLE_CANDIDATES", "ENSEMBLE_ROUNDS", "ENSEMBLE_SHARE", "ensemble", "keep_ensemble", "out_of_fold"]

ENSEMBLE_SHARE = 0.15  # of the budget kept back for out-of-fold scoring of the ensemble candidates
ENSEMBLE_CANDIDATES = 3
ENSEMBLE_ROUNDS = 20


def _fit(automl: AutoML, learner: str, *, config: dict[str, Any], x: Any, y: Any, n_jobs: int) -> Any:
    params = {k: v for k, v in config.items() if not k.startswith("FLAML_")}
    estimator = learner_class(automl, learner)(task=task_of(automl), n_jobs=n_jobs, **params)
    estimator.fit(x, y)
    return estimator


def out_of_fold(
    automl: AutoML, learner: str, *, x: Any, y: np.ndarray[Any, Any], folds: list[Any], options: TrainOptions
) -> np.ndarray[Any, Any]:
    """P(yes) of the learner's best configuration for every training row, from the fold that did not fit it."""
    # FLAML reports an empty best configuration as None: the learner's defaults, as it fitted them.
    config = automl.best_config_per_estimator.get(learner) or {}
    predictions = np.zeros(len(y))
    for train_idx, val_idx in folds:
        est = _fit(automl, learner, config=config, x=x.iloc[train_idx], y=y[train_idx], n_jobs=options.n_jobs)
        predictions[val_idx] = est.predict_proba(x.iloc[val_idx])[:, 1]
    return predictions


def keep_ensemble(ensemble: dict[str, float], single: dict[str, float], *, learners_used: int) -> bool:
    """The ensemble rule, on out-of-fold metrics: a real blend that ranks better and is no worse calibrated."""
    return (
        learners_used >= 2
        and ensemble[PRIMARY_METRIC] > single[PRIMARY_METRIC]
        and ensemble["log_loss"] <= single["log_loss"]
    )


def ensemble(
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
        oof[learner] = out_of_fold(automl, learner, x=x, y=y, folds=folds, options=options)
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
            _fit(automl, name, config=automl.best_config_per_estimator[name] or {}, x=x, y=y, n_jobs=options.n_jobs),
            {k: plain(v) for k, v in (automl.best_config_per_estimator[name] or {}).items()},
        )
        for name, n in used.items()
    ]
    weights = ", ".join(f"{LEARNERS[name]} {n / ENSEMBLE_ROUNDS:.2f}" for name, n in used.items())
    return members, ensemble_metrics, f"VotingEnsemble kept: {versus} (weights {weights})", blend
