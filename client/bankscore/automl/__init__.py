"""AutoML training and the model registry (needs the ``train`` extra: FLAML and MLflow).

The names below load on first use: importing a submodule that needs none of them (the registry reader behind
``bankscore models list``) does not pay for scikit-learn, FLAML and the learners.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bankscore.automl._metrics import METRIC_NAMES, PRIMARY_METRIC, classification_metrics
    from bankscore.automl._model import BankMarketingModel, Member, records_to_frame
    from bankscore.automl._search import (
        DEFAULT_TIME_BUDGET,
        LEARNERS,
        Progress,
        TrainingResult,
        TrainOptions,
        Trial,
        run_automl,
    )

__all__ = [
    "DEFAULT_TIME_BUDGET",
    "LEARNERS",
    "METRIC_NAMES",
    "PRIMARY_METRIC",
    "BankMarketingModel",
    "Member",
    "Progress",
    "TrainOptions",
    "TrainingResult",
    "Trial",
    "classification_metrics",
    "records_to_frame",
    "run_automl",
]

_HOMES = {
    "bankscore.automl._metrics": ("METRIC_NAMES", "PRIMARY_METRIC", "classification_metrics"),
    "bankscore.automl._model": ("BankMarketingModel", "Member", "records_to_frame"),
    "bankscore.automl._search": (
        "DEFAULT_TIME_BUDGET",
        "LEARNERS",
        "Progress",
        "TrainingResult",
        "TrainOptions",
        "Trial",
        "run_automl",
    ),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
