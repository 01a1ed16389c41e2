"""The scorer artifact (``scorer.pkl``) and ``contract.json``: a trained model as the scoring script reads it.

This module writes the artifact; ``bankscore_scoring.model.Model`` reads it. FLAML scores through pandas (its
DataTransformer, then each learner's own preprocessing), which costs milliseconds per request. The learners
themselves only need a float matrix: categorical columns as the category codes FLAML pinned at fit time,
numeric columns as they are, in the transformer's column order. ``export_scorer`` reduces the model to that
(boosters, trees or coefficients, and category codes); ``lean_model`` checks on real rows that the scoring
script gives the same probabilities as FLAML's own path, and refuses otherwise.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bankscore._facts import DEPLOYMENT_MAX_BODY_BYTES, MAX_RECORDS_PER_REQUEST
from bankscore.deploy.bankscore_scoring.model import Model
from bankscore.features import FEATURES, Feature

if TYPE_CHECKING:
    from bankscore.automl import BankMarketingModel  # deploy reads automl's trained model; never the reverse

__all__ = ["TOLERANCE", "contract_document", "export_scorer", "lean_model"]

# Blends sum in another order than FLAML's, and XGBoost's trees walked in Python for small batches round to
# float32 differently (seen up to 1.2e-7); a wrong encoding or a misread split is off by far more than 1e-6.
TOLERANCE = 1e-6
SINGLE_ROWS_CHECKED = 200


def _lean_member(estimator: Any, weight: float) -> dict[str, Any]:
    """The library-level model inside a FLAML estimator wrapper, as the scoring script scores it."""
    inner = estimator.estimator  # FLAML keeps the fitted library estimator here
    module = type(inner).__module__
    if module.startswith("lightgbm"):
        best = getattr(inner, "best_iteration_", None)
        return {"kind": "lightgbm", "weight": weight, "model": inner.booster_, "num_iteration": best or None}
    if module.startswith("xgboost"):
        booster = inner.get_booster()
        return {"kind": "xgboost", "weight": weight, "model": booster, **_xgboost_trees(booster)}
    if hasattr(inner, "estimators_") and all(hasattr(t, "tree_") for t in inner.estimators_):
        return {"kind": "forest", "weight": weight, "model": tuple(t.tree_ for t in inner.estimators_)}
    if hasattr(inner, "coef_") and np.shape(inner.coef_)[0] == 1:
        coef = np.asarray(inner.coef_[0], dtype=np.float64)
        return {"kind": "linear", "weight": weight, "model": (coef, float(inner.intercept_[0]))}
    raise TypeError(f"no lean scoring path for {type(inner).__name__}")


def _xgboost_trees(booster: Any) -> dict[str, Any]:
    """XGBoost's trees as plain lists for the scoring script's small-batch path (see _xgboost_small).

    Only plain numeric splits of a single-target binary:logistic gbtree qualify (FLAML feeds XGBoost category
    codes as numbers); anything else keeps XGBoost's own predict. Thresholds and leaf values go through float32
    as XGBoost holds them; the compile check in ``lean_model`` proves the result.
    """
    document = json.loads(booster.save_raw("json"))
    learner = document["learner"]
    booster_json = learner["gradient_booster"]
    if learner["objective"]["name"] != "binary:logistic" or booster_json.get("name") != "gbtree":
        return {}
    model = booster_json["model"]
    if model["gbtree_model_param"].get("num_parallel_tree", "1") != "1":
        return {}
    trees = []
    for tree in model["trees"]:
        if any(tree["split_type"]):  # categorical splits: leave them to XGBoost
            return {}
        left, right = tree["left_children"], tree["right_children"]
        thresholds = [float(np.float32(v)) for v in tree["split_conditions"]]
        leaf = [child == -1 for child in left]
        trees.append((left, right, tree["split_indices"], thresholds, leaf))
    base_score = float(learner["learner_model_param"]["base_score"])
    return {"trees": trees, "base_margin": math.log(base_score / (1.0 - base_score))}


def export_scorer(model: BankMarketingModel) -> dict[str, Any]:
    """The pickled part of a deployment: input column order, category codes, and the lean learners."""
    transformer = model.transformer
    cat_columns = list(transformer._cat_columns)
    num_columns = list(transformer._num_columns)
    categories = getattr(transformer, "_cat_categories", {}) or {}
    codes: list[dict[str, int] | None] = []
    for name in cat_columns:
        cats = categories.get(name)
        if cats is None:
            raise ValueError(f"FLAML's transformer did not pin the categories of {name!r}")
        codes.append({str(cat): i for i, cat in enumerate(cats)})
    codes.extend([None] * len(num_columns))
    members = [_lean_member(m.estimator, m.weight) for m in model.members]
    return {"format": 1, "columns": cat_columns + num_columns, "codes": codes, "members": members}


def contract_document(
    model: BankMarketingModel,
    *,
    generation: str,
    model_version: str,
    model_name: str = "bank-marketing",
    max_records: int = MAX_RECORDS_PER_REQUEST,
    max_body_bytes: int = DEPLOYMENT_MAX_BODY_BYTES,
) -> dict[str, Any]:
    """``contract.json``: the model's features as the feature contract states them, and the serving limits."""
    features: list[Feature] = [f for f in FEATURES if f.wire_name in model.features]
    return {
        "model_name": model_name,
        "model_version": model_version,
        "generation": generation,
        "classes": list(model.classes),
        "max_records": max_records,
        "max_body_bytes": max_body_bytes,
        "features": [
            {
                "wire_name": f.wire_name,
                "kind": f.kind.value,
                "categories": list(f.categories),
                "minimum": f.minimum,
                "maximum": f.maximum,
            }
            for f in features
        ],
    }


def lean_model(model: BankMarketingModel, check_records: Sequence[Mapping[str, Any]], **contract: Any) -> Model:
    """The scoring script's model for ``model``, proven on ``check_records`` against FLAML's own scores."""
    document = contract_document(model, **{"generation": "C", "model_version": "0", **contract})
    lean = Model(export_scorer(model), document)
    if check_records:
        rows = list(check_records)
        expected = model.predict_proba(rows)[:, 1]
        # The whole batch, then the first rows one by one: small requests take other code paths.
        got = [lean.p_yes(_columns(model, rows), len(rows))]
        singles = rows[:SINGLE_ROWS_CHECKED]
        got.append(np.concatenate([lean.p_yes(_columns(model, [r]), 1) for r in singles]))
        worst = max(
            float(np.max(np.abs(expected - got[0]))),
            float(np.max(np.abs(expected[: len(singles)] - got[1]))),
        )
        if worst > TOLERANCE:
            raise ValueError(f"the lean scorer differs from FLAML's by up to {worst:.3g}; refusing to use it")
    return lean


def _columns(model: BankMarketingModel, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in rows] for name in model.features}
