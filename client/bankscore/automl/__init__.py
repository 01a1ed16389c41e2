"""AutoML training and the model registry (needs the ``train`` extra: FLAML and MLflow)."""

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
