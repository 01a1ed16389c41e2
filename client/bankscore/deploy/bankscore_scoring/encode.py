"""The 200 body in the deployment's wire generation."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .model import Model

__all__ = ["render_result"]


def render_result(model: Model, method: str, p_yes: np.ndarray[Any, Any]) -> Any:
    """The 200 body in the deployment's generation: A/B double-encode (a JSON string), C and D are plain JSON.

    D answers a bare array, as MLflow's pyfunc output reaches the wire: labels, or with predict_proba one
    ``{"no": P(no), "yes": P(yes)}`` object per row (the model's DataFrame as records).
    """
    no, yes = model.classes
    if method == "predict_proba":
        if model.generation == "D":
            return [{no: 1.0 - p, yes: p} for p in p_yes.tolist()]
        result: list[Any] = [[1.0 - p, p] for p in p_yes.tolist()]
    else:
        result = [yes if p >= 0.5 else no for p in p_yes.tolist()]
    if model.generation == "D":
        return result
    if model.generation == "C":
        return {"Results": result}
    return json.dumps({"result": result})  # the server JSON-encodes this string again, as AutoML's scripts did
