"""Turning whatever the caller has into validated records, and records into wire JSON.

Accepted inputs: one ``BankMarketingRecord`` or dict (keys as wire or Python names); a list or any iterable of
them; a CSV path (checked by ``bankscore.data.load_csv``); a ``bankscore.data.Dataset``; a pandas DataFrame
(pandas is only touched when the caller passes one). Every record is validated with the generated pydantic
model, all at once, and every problem is reported with index, field and value before anything is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import pydantic

from bankscore._exceptions import RecordProblem, ValidationError
from bankscore._models_generated import BankMarketingRecord

__all__ = ["RecordInput", "RecordsInput", "dump_json", "to_records", "validate_records"]

RecordInput = BankMarketingRecord | Mapping[str, Any]
RecordsInput = Iterable[RecordInput] | str | os.PathLike[str] | Any  # Any: a DataFrame or a Dataset

_LIST: Final = pydantic.TypeAdapter(list[BankMarketingRecord])
_MAX_PROBLEMS: Final = 1000  # kept on the error; a million bad rows need not be a million objects


def to_records(source: RecordsInput) -> list[Any]:
    """The records in ``source``, in order, not yet validated."""
    if isinstance(source, BankMarketingRecord | Mapping):
        return [source]
    if isinstance(source, str | os.PathLike):
        from bankscore.data import load_csv

        return list(load_csv(Path(source)).records())
    module = type(source).__module__
    if module.startswith("pandas") and hasattr(source, "to_dict"):
        return list(source.to_dict(orient="records"))  # native Python scalars (pandas boxes them)
    if module.startswith("bankscore.data") and hasattr(source, "records"):
        return list(source.records())
    if isinstance(source, Iterable):
        return list(source)
    raise TypeError(f"cannot score a {type(source).__name__}: pass records, a CSV path or a DataFrame")


def validate_records(records: list[Any]) -> list[BankMarketingRecord]:
    """Validate every record; raise ``ValidationError`` listing each problem (nothing is sent)."""
    try:
        return _LIST.validate_python(records)
    except pydantic.ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)[:_MAX_PROBLEMS]]
        raise ValidationError(problems, len(records)) from None


def _problem(error: Any) -> RecordProblem:
    loc = list(error.get("loc") or ())
    index = loc[0] if loc and isinstance(loc[0], int) else -1
    field = ".".join(str(part) for part in loc[1:]) or "(record)"
    message = str(error.get("msg", "invalid"))
    value = error.get("input")
    if error.get("type") == "missing":
        value = None
    elif error.get("type") == "model_type":
        field, message = "(record)", "must be an object of feature: value"
    return RecordProblem(index, field, value, message)


def dump_json(records: list[BankMarketingRecord]) -> bytes:
    """The records as one JSON array keyed by wire names (pydantic's serializer, in one call)."""
    return _LIST.dump_json(records, by_alias=True)
