"""What every module of the scoring package shares: file names, limits, the shapes of rows and columns,
and the two exceptions a request can meet."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "ARTIFACT_FILE",
    "CONTRACT_FILE",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_RECORDS",
    "MAX_PROBLEMS_SHOWN",
    "METHODS",
    "SMALL_BATCH",
    "Check",
    "Column",
    "InputError",
    "Rows",
    "SmallPath",
    "Unreadable",
]

ARTIFACT_FILE = "scorer.pkl"
CONTRACT_FILE = "contract.json"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024  # bankscore._facts.DEPLOYMENT_MAX_BODY_BYTES (a test keeps them equal)
DEFAULT_MAX_RECORDS = 10_000  # bankscore._facts.MAX_RECORDS_PER_REQUEST (a test keeps them equal)
METHODS = ("predict", "predict_proba")
MAX_PROBLEMS_SHOWN = 5


class InputError(Exception):
    """A caller's mistake: answered with ``status`` and ``{"message": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Unreadable(str):
    """A JSON number Python cannot hold, kept as the caller wrote it so that a message can show it.

    An integer longer than ``int()`` converts (4,300 digits) or a number beyond float range (``1e999``):
    int() would raise ValueError with advice meant for the server's programmer, float() would give an infinity
    the caller never wrote. A str subclass fails every type check, so the record is refused by name.
    """


# Rows, one list of floats per record, in the artifact's column order.
Rows = list[list[float]]
# A learner's small-batch path: P(yes) per row, from the rows as float64 (False) or rounded to float32 (True).
SmallPath = tuple[bool, Callable[[Rows], list[float]]]
# A checked column: a list (few records), a tuple of categories or a float64 array of numbers (many).
Column = Sequence[Any] | np.ndarray[Any, Any]
# A feature's check as plain values: (wire name, kind, allowed categories, lowest, highest).
Check = tuple[str, str, frozenset[str], float, float]

SMALL_BATCH = 16  # up to this many rows, walking the trees in Python beats the libraries' per-call cost
