"""What a 400 says: each problem by record, field and value, with values shown short and as the caller wrote them."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from .facts import MAX_PROBLEMS_SHOWN, Unreadable

if TYPE_CHECKING:
    from .model import Model

__all__ = ["describe_problems", "shown"]


def _value_problem(feature: Mapping[str, Any], value: Any) -> str | None:
    kind, name = feature["kind"], feature["wire_name"]
    if kind == "category":
        if type(value) is not str:
            return f"{name}={shown(value)} must be a string"
        if value not in feature["_allowed"]:
            return f"{name}={shown(value)} is not one of {', '.join(feature['categories'])}"
        return None
    expected = "an integer" if kind == "integer" else "a number"
    text = shown(value)
    low, high = feature.get("minimum"), feature.get("maximum")
    if type(value) is Unreadable:  # a number, only too long or too large for any feature
        if low is None and high is None:
            return f"{name}={text} is too large for {expected}"
        return f"{name}={text} is outside the range {_fmt(low)}..{_fmt(high)}"
    if type(value) is not int and (type(value) is not float or not math.isfinite(value)):
        return f"{name}={text} must be {expected}"
    if kind == "integer" and type(value) is float and not value.is_integer():
        return f"{name}={text} must be an integer"
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{name}={text} is outside the range {_fmt(low)}..{_fmt(high)}"
    return None


def shown(value: Any, limit: int = 60, *, as_python: bool = False) -> str:
    """The value as JSON (or Python's repr), cut short: a long number, string or list stays readable.

    Written without recursion and only as far as ``limit``: a value nested a thousand levels deep (orjson reads
    1,024) would overflow json.dumps or repr, and a megabyte string need not be encoded to show 60 characters.
    """
    scalar = _python_scalar if as_python else _json_scalar
    pieces: list[str] = []
    size = 0
    # Each open array or object: an iterator of (text before the item, item), and the text that closes it.
    open_: list[tuple[Iterator[tuple[str, Any]], str]] = [(iter((("", value),)), "")]
    while open_ and size <= limit:
        items, close = open_[-1]
        before, item = next(items, ("", _DONE))
        if item is _DONE:
            open_.pop()
            piece = close
        elif isinstance(item, list):
            open_.append(((("" if i == 0 else ", ", v) for i, v in enumerate(item)), "]"))
            piece = before + "["
        elif isinstance(item, dict):
            keyed = (("" if i == 0 else ", ") + scalar(k[: limit + 1]) + ": " for i, k in enumerate(item))
            open_.append((zip(keyed, item.values(), strict=True), "}"))
            piece = before + "{"
        else:
            piece = before + scalar(item)
        pieces.append(piece)
        size += len(piece)
    text = "".join(pieces)
    return text if len(text) <= limit else text[:limit] + "..."


_DONE = object()  # marks the end of an array or object in shown


def _json_scalar(value: Any) -> str:
    if type(value) is Unreadable:
        return str.__str__(value)  # the number as written
    if isinstance(value, str) and len(value) > 200:
        value = value[:200]  # enough for any limit; cut before encoding, not after
    return json.dumps(value)  # as the caller wrote it: NaN and Infinity included


def _python_scalar(value: Any) -> str:
    if type(value) is Unreadable:
        return str.__str__(value)
    return repr(value[:200] if isinstance(value, str) else value)


def _fmt(bound: float | None) -> str:
    return "" if bound is None else (str(int(bound)) if float(bound).is_integer() else str(bound))


def describe_problems(model: Model, rows: list[Any], where: str = "record {}") -> str:
    problems: list[str] = []
    for index, row in enumerate(rows):
        # Lazily: a record with a hundred thousand unknown keys costs no more than five problems.
        problems.extend(islice(_record_problems(model, where.format(index), row), MAX_PROBLEMS_SHOWN - len(problems)))
        if len(problems) >= MAX_PROBLEMS_SHOWN:
            break
    return "; ".join(problems) or "the records do not fit the model's features"


def _record_problems(model: Model, where: str, row: Any) -> Iterator[str]:
    if type(row) is not dict:
        yield f"{where}: must be an object of feature: value, not {shown(row, 80)}"
        return
    for name in row:
        if name not in model.feature_names:
            short = name if len(name) <= 60 else name[:60] + "..."
            yield f"{where}: {short} is not an input feature of this model"
    for feature in model.features:
        if feature["wire_name"] not in row:
            yield f"{where}: {feature['wire_name']} is missing"
            continue
        problem = _value_problem(feature, row[feature["wire_name"]])
        if problem:
            yield f"{where}: {problem}"
