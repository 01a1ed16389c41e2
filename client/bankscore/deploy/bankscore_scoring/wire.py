"""Request bodies: JSON read once, then the records and method of generations A, B and C, or D's split frame."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from .facts import METHODS, InputError, Unreadable
from .messages import shown

__all__ = ["load_object", "parse_body", "parse_frame"]

try:  # orjson parses a large body several times faster than json
    import orjson

    def _loads(raw: bytes) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            # Python's json also reads NaN, Infinity, huge numbers, UTF-16/32 and a byte-order mark, which the
            # checks then name precisely; a body neither can read gets json's message, which says where it broke.
            return _loads_slowly(raw)

except ImportError:

    def _loads(raw: bytes) -> Any:
        return _loads_slowly(raw)


# A JSON string, escapes included: left out when counting brackets, as text may hold any.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _int_or_unreadable(text: str) -> int | Unreadable:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits()
        return Unreadable(text)


def _float_or_unreadable(text: str) -> float | Unreadable:
    number = float(text)
    return number if math.isfinite(number) else Unreadable(text)


def _deepest(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw``, counted on its bytes without parsing."""
    codes = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    steps = (codes == ord("[")).astype(np.int32) + (codes == ord("{")) - (codes == ord("]")) - (codes == ord("}"))
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def _loads_slowly(raw: bytes) -> Any:
    """Python's json, for a body orjson refused, with every number kept however large."""
    try:
        # The number hooks cost a tenth of the parse, only on this path: orjson reads the bodies that are right.
        return json.loads(raw, parse_int=_int_or_unreadable, parse_float=_float_or_unreadable)
    except RecursionError:
        # json recurses once per level: past Python's recursion limit (1,000 frames, less the server's own
        # stack) it overflows, where orjson refused at 1,024 levels. Only such a body pays for counting them.
        depth = _deepest(raw)
        raise ValueError(f"arrays and objects nest {depth} levels deep, more than this server reads") from None


def load_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or the server's own 400s for anything else."""
    try:
        body = _loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(400, f"POST body could not be decoded as JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InputError(400, "POST body should be a JSON dictionary.")
    return body


def parse_body(raw: bytes, generation: str) -> tuple[list[Any], str]:
    """The records and the method a body asks for, in the deployment's wire generation (A, B or C).

    Generation D sends a frame, not records: see ``parse_frame``.
    """
    body = load_object(raw)
    method = "predict"
    if generation == "C":
        inputs = body.get("Inputs")
        if inputs is None:
            raise InputError(400, "A value is not provided for the 'Inputs' parameter.")
        if not isinstance(inputs, dict) or "data" not in inputs:
            raise InputError(400, 'Inputs must be an object holding "data": [records]')
        data = inputs["data"]
        if "GlobalParameters" in body:
            params = body["GlobalParameters"]
            if not isinstance(params, dict) or "method" not in params:
                raise InputError(
                    400, 'GlobalParameters must be an object holding "method": "predict" or "predict_proba"'
                )
            method = params["method"]
    else:
        if "data" not in body:
            raise InputError(400, "A value is not provided for the 'data' parameter.")
        data = body["data"]
        if generation == "B" and "method" in body:
            method = body["method"]
    if method not in METHODS:
        raise InputError(400, f"method={shown(method, as_python=True)} is not one of predict, predict_proba")
    if not isinstance(data, list):
        kind = "number" if type(data) is Unreadable else type(data).__name__
        raise InputError(400, f"data must be a list of records, not {kind}")
    if not data:
        raise InputError(400, "data is empty: send at least one record")
    return data, method


# ------------------------------------------------------------------------------ generation D: a split frame

_SPLIT_SHAPE = '{"columns": [...], "index": [...], "data": [[...], ...]}'


def parse_frame(raw: bytes) -> tuple[list[str], list[list[Any]], str]:
    """Generation D: the column names, the rows and the ``predict_method`` a body asks for.

    Only the frame's shape is checked here (a pandas "split" frame whose rows are as wide as its columns);
    ``check_frame`` checks the values against the model. Other top-level keys are ignored, as on Azure.
    """
    body = load_object(raw)
    if "input_data" not in body:
        raise InputError(400, "A value is not provided for the 'input_data' parameter.")
    frame = body["input_data"]
    if type(frame) is not dict:
        raise InputError(400, f"input_data must be a pandas split frame {_SPLIT_SHAPE}, not {_json_kind(frame)}")
    method = _predict_method(body.get("params"))
    for key in ("columns", "data"):
        if key not in frame:
            raise InputError(400, f"input_data lacks {key!r}: send a pandas split frame {_SPLIT_SHAPE}")
    names, rows = frame["columns"], frame["data"]
    if type(names) is not list:
        raise InputError(400, f"input_data.columns must be an array of column names, not {_json_kind(names)}")
    if not all(type(n) is str for n in names):
        j, name = next((j, n) for j, n in enumerate(names) if type(n) is not str)
        raise InputError(400, f"input_data.columns[{j}]={shown(name)} must be a string (a column name)")
    if len(set(names)) != len(names):
        seen: set[str] = set()  # a set, not names[:j]: a body may hold a million column names
        for name in names:
            if name in seen:
                raise InputError(400, f"input_data.columns names {shown(name)} more than once")
            seen.add(name)
    if type(rows) is not list:
        raise InputError(400, f"input_data.data must be an array of rows, not {_json_kind(rows)}")
    if not rows:
        raise InputError(400, "input_data.data is empty: send at least one row")
    width = len(names)
    if not all(type(r) is list and len(r) == width for r in rows):
        i, row = next((i, r) for i, r in enumerate(rows) if type(r) is not list or len(r) != width)
        if type(row) is not list:
            raise InputError(
                400, f"input_data.data[{i}] must be an array of {width} values (one per column), not {shown(row)}"
            )
        # pandas would fill a short row with NaN and score it; a value missing is a mistake to name instead.
        raise InputError(400, f"input_data.data[{i}] holds {len(row)} values; input_data.columns names {width}")
    if "index" in frame:  # optional: the rows' labels, which the answer does not carry
        index = frame["index"]
        if type(index) is not list:
            raise InputError(400, f"input_data.index must be an array of row labels, not {_json_kind(index)}")
        if len(index) != len(rows):
            raise InputError(
                400,
                f"input_data.index holds {len(index)} labels for {len(rows)} "
                f"row{'s' if len(rows) != 1 else ''} in input_data.data",
            )
    return names, rows, method


def _predict_method(params: Any) -> str:
    """``params.predict_method``; ``params`` left out or null means predict, and its other keys are ignored."""
    if params is None:
        return METHODS[0]
    if type(params) is not dict:
        raise InputError(
            400, f'params must be an object such as {{"predict_method": "predict_proba"}}, not {shown(params)}'
        )
    method = params.get("predict_method", METHODS[0])
    if type(method) is not str or method not in METHODS:
        raise InputError(400, f"params.predict_method={shown(method)} is not one of {', '.join(METHODS)}")
    return method


def _json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words (a message must not speak Python to an HTTP caller)."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "a boolean"
    if type(value) in (int, float, Unreadable):
        return "a number"
    if type(value) is str:
        return "a string"
    return "an array" if type(value) is list else "an object"
