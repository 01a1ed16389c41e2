"""Records and frames checked against the contract, column by column; a problem is named by record and field."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .facts import SMALL_BATCH, Check, Column, InputError
from .messages import describe_problems
from .model import Model

__all__ = ["check_columns", "check_frame"]


def check_columns(model: Model, rows: list[Any]) -> dict[str, Column]:
    """Check every record against the contract and return the values by column.

    The common case (every record valid) runs column by column; only when something is wrong does the slow
    path walk the records to name each problem's record index, field and value. Up to SMALL_BATCH records
    the columns are lists; beyond, a number column comes back as the float64 array its check built (so
    scoring does not convert it again) and a category column as a tuple.
    """
    if len(rows) > model.max_records:
        raise InputError(400, f"data holds {len(rows)} records; this deployment takes at most {model.max_records}")
    columns: dict[str, Column] = {}
    try:
        width = len(model.checks)
        if not all(type(r) is dict and len(r) == width for r in rows):
            raise LookupError
        if len(rows) <= SMALL_BATCH:
            for check in model.checks:
                few = [r[check[0]] for r in rows]  # KeyError if a record lacks it
                if not _few_ok(check, few):
                    raise LookupError
                columns[check[0]] = few
        else:
            # Transposed in two C-level passes instead of one Python loop per column.
            for check, values in zip(model.checks, zip(*map(model.pick, rows), strict=True), strict=True):
                checked = _many_checked(check, values)
                if checked is None:
                    raise LookupError
                columns[check[0]] = checked
    except LookupError:
        raise InputError(400, describe_problems(model, rows)) from None
    return columns


def check_frame(model: Model, names: list[str], rows: list[list[Any]]) -> dict[str, Column]:
    """``check_columns`` for a split frame: the model's columns, checked, by name; other columns are ignored.

    The frame is already column-shaped, so many rows are transposed in one C-level pass; only when a value is
    wrong are the rows walked to name each problem's row, field and value.
    """
    if len(rows) > model.max_records:
        raise InputError(
            400, f"input_data.data holds {len(rows)} rows; this deployment takes at most {model.max_records}"
        )
    position = {name: j for j, name in enumerate(names)}
    missing = [check[0] for check in model.checks if check[0] not in position]
    if missing:
        raise InputError(
            400, f"input_data.columns lacks {', '.join(missing)}: the model needs every feature it was trained on"
        )
    columns: dict[str, Column] = {}
    try:
        if len(rows) <= SMALL_BATCH:
            for check in model.checks:
                j = position[check[0]]
                few = [r[j] for r in rows]
                if not _few_ok(check, few):
                    raise LookupError
                columns[check[0]] = few
        else:
            transposed = list(zip(*rows, strict=True))
            for check in model.checks:
                checked = _many_checked(check, transposed[position[check[0]]])
                if checked is None:
                    raise LookupError
                columns[check[0]] = checked
    except LookupError:
        wanted = [(f["wire_name"], position[f["wire_name"]]) for f in model.features]
        records = [{name: row[j] for name, j in wanted} for row in rows]
        raise InputError(400, describe_problems(model, records, "input_data.data[{}]")) from None
    return columns


def _few_ok(check: Check, values: list[Any]) -> bool:
    """Whether a few values fit the feature, as plain loops (numpy's per-call cost exceeds the work)."""
    _, kind, allowed, low, high = check
    if kind == "category":
        return all(type(v) is str and v in allowed for v in values)
    for v in values:
        if type(v) is float:
            # is_integer() is False for NaN and infinities too; math.isfinite would overflow on a huge int.
            if not (v.is_integer() if kind == "integer" else math.isfinite(v)):
                return False
        elif type(v) is not int:  # bool is its own type, so true/false are refused here too
            return False
        if v < low or v > high:
            return False
    return True


def _many_checked(check: Check, values: Sequence[Any]) -> Column | None:
    """The same test as _few_ok with set and numpy operations: the column ready to score, or None."""
    _, kind, allowed, low, high = check
    types = set(map(type, values))
    if kind == "category":
        return values if types == {str} and allowed.issuperset(values) else None
    if not types <= {int, float}:
        return None
    try:
        array = np.fromiter(values, dtype=np.float64, count=len(values))
    except OverflowError:  # an integer beyond float range
        return None
    if float in types:
        if not np.isfinite(array).all():
            return None
        if kind == "integer" and not np.array_equal(array, np.floor(array)):
            return None
    if array.min() < low or array.max() > high:
        return None
    return array
