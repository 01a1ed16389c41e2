"""bankscore: a typed toolkit for operating a Bank Marketing scoring model the Azure ML way.

Importing ``bankscore`` loads the client layer only: no pandas, numpy, Locust, FLAML or MLflow. Training,
serving and load testing live in subpackages and extras that are imported when used.

>>> import bankscore
>>> with bankscore.Client() as client:  # the local deployment, or BANKSCORE_URI / BANKSCORE_KEY
...     result = client.predict_many("customers.csv")

The library prints nothing unasked: it logs through the ``bankscore`` logger (retries at WARNING, what the
client learned from an endpoint's spec at DEBUG), which has only a ``NullHandler`` until the application
configures logging, as httpx and the Azure SDK do. The ``bankscore`` command configures it (``--quiet``,
``--verbose``).
"""

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from bankscore._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BankscoreError,
    DataError,
    InternalServerError,
    ModelError,
    NotFoundError,
    PartialResultError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RecordProblem,
    RequestTimeoutError,
    RowProblems,
    SchemaDriftError,
    ScoringError,
    ScoringInterrupted,
    SwaggerError,
    ValidationError,
)
from bankscore._generations import WireGeneration
from bankscore._results import Prediction, RecordFailure, ScoreResult
from bankscore._version import __version__
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL, Feature, FeatureKind, Label, ValueProblem

# Without a handler, Python's last-resort handler would print the library's warnings to stderr.
logging.getLogger("bankscore").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from bankscore._async_client import AsyncClient
    from bankscore._bank_marketing_record import BankMarketingRecord
    from bankscore._base import SpecBinding
    from bankscore._client import Client
    from bankscore._compare import CompareResult, compare
    from bankscore._records import ColumnsDropped, LabelColumnDropped
    from bankscore._retry import RetryPolicy

# httpx, pydantic and tenacity load on first use of these names: `import bankscore` stays quick for scripts
# that only need the feature contract or the data.
_LAZY = {
    "AsyncClient": "bankscore._async_client",
    "BankMarketingRecord": "bankscore._bank_marketing_record",
    "Client": "bankscore._client",
    "compare": "bankscore._compare",
    "CompareResult": "bankscore._compare",
    "RetryPolicy": "bankscore._retry",
    "SpecBinding": "bankscore._base",
    "LabelColumnDropped": "bankscore._records",
    "ColumnsDropped": "bankscore._records",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bankscore' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "FEATURES",
    "FEATURE_NAMES",
    "LABEL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BankMarketingRecord",
    "BankscoreError",
    "Client",
    "ColumnsDropped",
    "CompareResult",
    "DataError",
    "Feature",
    "FeatureKind",
    "InternalServerError",
    "Label",
    "LabelColumnDropped",
    "ModelError",
    "NotFoundError",
    "PartialResultError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Prediction",
    "RateLimitError",
    "RecordFailure",
    "RecordProblem",
    "RequestTimeoutError",
    "RetryPolicy",
    "RowProblems",
    "SchemaDriftError",
    "ScoreResult",
    "ScoringError",
    "ScoringInterrupted",
    "SpecBinding",
    "SwaggerError",
    "ValidationError",
    "ValueProblem",
    "WireGeneration",
    "__version__",
    "compare",
]
