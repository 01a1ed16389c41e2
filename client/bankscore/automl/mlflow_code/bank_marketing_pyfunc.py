"""The Bank Marketing model as an MLflow pyfunc, with no dependency on bankscore.

This file travels inside every registered model folder (MLflow's ``code/``, logged with ``code_paths``) and
MLflow puts that folder on ``sys.path`` before it unpickles the model. The pickle refers to this module by its
top-level name, ``bank_marketing_pyfunc``, so a model folder loads wherever its declared requirements are
installed (an Azure no-code deployment builds exactly those), without bankscore.

It may import only what the model folder's ``requirements.txt`` declares: MLflow, pandas, numpy, and (through
the pickled learners) FLAML with the learners' libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

__all__ = ["PREDICT_METHODS", "THRESHOLD", "BankMarketingPyfunc", "positive_probability"]

# What the pyfunc answers, chosen per request with the ``predict_method`` param (the first is the default):
# labels, as Azure AutoML's registered models answer, or P(no), P(yes) as named columns.
PREDICT_METHODS = ("predict", "predict_proba")
# Azure's predict labels a row "yes" from P(yes) >= 0.5.
THRESHOLD = 0.5


def positive_probability(task: Any, transformer: Any, members: Sequence[tuple[float, Any]], frame: Any) -> Any:
    """P(yes) per row: FLAML's data transform, then each learner's P(yes), blended by weight."""
    x = task.preprocess(frame, transformer)
    total = sum(weight for weight, _ in members)
    blended = sum(weight * estimator.predict_proba(x)[:, 1] for weight, estimator in members) / total
    return np.asarray(blended, dtype=float)


class BankMarketingPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """MLflow's generic interface: a DataFrame in; labels, or P(no) and P(yes), out.

    ``params={"predict_method": "predict_proba"}`` asks for probabilities. The signature declares the param,
    so MLflow (and Azure's no-code scoring script, which calls ``predict(input, params=...)``) passes it on.
    Columns beyond the model's features are ignored, as Azure's no-code script ignores them.

    ``state`` holds plain values and FLAML's fitted objects: ``features`` (wire names, in order), ``excluded``,
    ``classes`` (``("no", "yes")``), ``algorithm``, ``task`` and ``transformer`` (FLAML's), and ``members``, one
    dict per learner with ``algorithm``, ``weight``, ``estimator`` and ``config``.
    """

    def __init__(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)

    def predict_proba(self, model_input: Any) -> Any:
        """``[[P(no), P(yes)], ...]`` in row order."""
        state = self.state
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        missing = [name for name in state["features"] if name not in frame.columns]
        if missing:
            raise ValueError(f"the model needs the features {', '.join(missing)}, which the data lacks")
        members = [(m["weight"], m["estimator"]) for m in state["members"]]
        p_yes = positive_probability(state["task"], state["transformer"], members, frame[list(state["features"])])
        return np.column_stack([1.0 - p_yes, p_yes])

    # No annotations: MLflow reads predict's type hints as a schema and warns about anything but list[...].
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        method = (params or {}).get("predict_method", PREDICT_METHODS[0])
        classes = list(self.state["classes"])
        if method == "predict":
            p_yes = self.predict_proba(model_input)[:, 1]
            return [classes[1] if p >= THRESHOLD else classes[0] for p in p_yes]
        if method == "predict_proba":
            # Named columns: a caller (and the no-code endpoint's JSON records) never has to know the order.
            return pd.DataFrame(self.predict_proba(model_input), columns=classes)
        allowed = ", ".join(repr(m) for m in PREDICT_METHODS)
        raise ValueError(f"predict_method {method!r} is not supported: use one of {allowed}")
