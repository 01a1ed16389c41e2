"""Reduce a trained model to what the scoring script needs: boosters, trees or coefficients, and category codes.

FLAML scores through pandas (its DataTransformer, then each learner's own preprocessing), which costs
milliseconds per request. The learners themselves only need a float matrix: categorical columns as the
category codes FLAML pinned at fit time, numeric columns as they are, in the transformer's column order.
``export_scorer`` builds that artifact and checks, on real rows, that the deployment's scoring script
(``bankscore.deploy.score_script``) gives the same probabilities as FLAML's own path; otherwise it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bankscore.automl._model import BankMarketingModel
from bankscore.deploy import score_script
from bankscore.features import FEATURES, Feature

__all__ = ["TOLERANCE", "contract_document", "export_scorer", "lean_model"]

TOLERANCE = 1e-7  # blends sum in another order than FLAML's; a wrong encoding is off by far more


def _lean_member(estimator: Any, weight: float) -> dict[str, Any]:
    """The library-level model inside a FLAML estimator wrapper, as the scoring script scores it."""
    inner = estimator.estimator  # FLAML keeps the fitted library estimator here
    module = type(inner).__module__
    if module.startswith("lightgbm"):
        best = getattr(inner, "best_iteration_", None)
        return {"kind": "lightgbm", "weight": weight, "model": inner.booster_, "num_iteration": best or None}
    if module.startswith("xgboost"):
        return {"kind": "xgboost", "weight": weight, "model": inner.get_booster()}
    if hasattr(inner, "estimators_") and all(hasattr(t, "tree_") for t in inner.estimators_):
        return {"kind": "forest", "weight": weight, "model": tuple(t.tree_ for t in inner.estimators_)}
    if hasattr(inner, "coef_") and np.shape(inner.coef_)[0] == 1:
        coef = np.asarray(inner.coef_[0], dtype=np.float64)
        return {"kind": "linear", "weight": weight, "model": (coef, float(inner.intercept_[0]))}
    raise TypeError(f"no lean scoring path for {type(inner).__name__}")


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
    max_records: int = score_script.DEFAULT_MAX_RECORDS,
    max_body_bytes: int = score_script.DEFAULT_MAX_BODY_BYTES,
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


def lean_model(
    model: BankMarketingModel, check_records: Sequence[Mapping[str, Any]], **contract: Any
) -> score_script.Model:
    """The scoring script's model for ``model``, proven on ``check_records`` against FLAML's own scores."""
    document = contract_document(model, **{"generation": "C", "model_version": "0", **contract})
    lean = score_script.Model(export_scorer(model), document)
    if check_records:
        rows = list(check_records)
        columns = {name: [r[name] for r in rows] for name in model.features}
        got = lean.p_yes(columns, len(rows))
        expected = model.predict_proba(rows)[:, 1]
        worst = float(np.max(np.abs(expected - got)))
        if worst > TOLERANCE:
            raise ValueError(f"the lean scorer differs from FLAML's by up to {worst:.3g}; refusing to use it")
    return lean
