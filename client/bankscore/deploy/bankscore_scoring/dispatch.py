"""The one path from a request body to its answer: parse, check, score, encode.

The server's route and bankscore's own checks both go through ``score_body``; the route passes a ``Seen``
so that its log line names the method and the record count even when the records are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .checks import check_columns, check_frame
from .encode import render_result
from .facts import SMALL_BATCH, Column
from .model import Model
from .wire import parse_body, parse_frame

__all__ = ["Seen", "score_body"]

_NEAR_THRESHOLD = 1e-6  # the most a small-batch walk was seen to differ from the library (see _scorer_artifact)


class Seen:
    """What a request turned out to ask for, filled in as soon as each fact is known (for its log line)."""

    __slots__ = ("method", "records")

    def __init__(self) -> None:
        self.method = ""
        self.records = 0


def score_body(model: Model, raw: bytes, seen: Seen | None = None) -> tuple[Any, int]:
    """Parse, check and score one body; return the result and the number of records.

    ``seen`` learns the method once the body is parsed and the record count once the records pass the checks.
    """
    seen = Seen() if seen is None else seen
    if model.generation == "D":
        names, frame_rows, seen.method = parse_frame(raw)
        columns = check_frame(model, names, frame_rows)
        seen.records = len(frame_rows)
    else:
        rows, seen.method = parse_body(raw, model.generation)
        columns = check_columns(model, rows)
        seen.records = len(rows)
    p_yes = _p_yes(model, columns, seen.records, seen.method)
    return render_result(model, seen.method, p_yes), seen.records


def _p_yes(model: Model, columns: Mapping[str, Column], n: int, method: str) -> np.ndarray[Any, Any]:
    """P(yes) per record; in generation D the same doubles Microsoft's script gets from the model itself."""
    if model.generation != "D" or model.small_is_exact:
        return model.p_yes(columns, n)
    if method == "predict_proba":
        return model.p_yes(columns, n, exact=True)
    p_yes = model.p_yes(columns, n)
    # A label can differ only where the walk's last bits cross the threshold: score those few rows again.
    if n <= SMALL_BATCH and any(abs(p - 0.5) <= _NEAR_THRESHOLD for p in p_yes.tolist()):
        return model.p_yes(columns, n, exact=True)
    return p_yes
