"""bankscore: a typed toolkit for operating a Bank Marketing scoring model the Azure ML way.

Importing ``bankscore`` loads the client layer only: no pandas, numpy, Locust, FLAML or MLflow. Training,
serving and load testing live in subpackages and extras that are imported when used.
"""

from bankscore._exceptions import BankscoreError, DataError, RowProblems
from bankscore._version import __version__
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL, Feature, FeatureKind, Label, ValueProblem

__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "LABEL",
    "BankscoreError",
    "DataError",
    "Feature",
    "FeatureKind",
    "Label",
    "RowProblems",
    "ValueProblem",
    "__version__",
]
