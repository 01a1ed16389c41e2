"""Turning whatever the caller has into validated records of one record model, and records into wire JSON.

Accepted inputs: one model instance or dict (keys as wire or Python names); a list or any iterable of them; a
CSV path (``,`` or ``;`` separated, ``.gz`` too); a ``bankscore.data.Dataset``; a pandas DataFrame (pandas is
only touched when the caller passes one). Every input goes through the same steps, so the same rows give the
same records whatever they came in:

1. columns the model has no field for are dropped, with one ``ColumnsDropped`` warning naming them: the label
   ``y`` always (``LabelColumnDropped``), other Bank Marketing features (``duration`` for a model trained
   without it) unless ``strict``, and any other column only with ``drop_unknown``; a column kept that the model
   does not take is refused by validation, as before;
2. text in a numeric field is read as a number (``"41"``, ``" 1.1 "``), and a whole float in an integer field
   is an integer (``41.0``), as the CSV checks of ``bankscore.data`` read them;
3. every record is validated at once; ``ValidationError`` names each bad record's index (and CSV line),
   field and value, and counts every bad record exactly. Nothing is sent before all records pass.
"""

from __future__ import annotations

import math
import os
import types
import typing
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

import pydantic
from pydantic import BaseModel

from bankscore._csv_text import CsvLines, read_data_file
from bankscore._exceptions import DataError, RecordProblem, ValidationError
from bankscore._generations import WireGeneration
from bankscore._wire import encode_body, encode_frame
from bankscore.features import FEATURES, LABEL, number_from_text

__all__ = [
    "ColumnsDropped",
    "LabelColumnDropped",
    "RecordCodec",
    "RecordInput",
    "RecordsInput",
    "Rows",
    "csv_rows",
    "to_rows",
]

RecordInput = BaseModel | Mapping[str, Any]
RecordsInput = Iterable[RecordInput] | str | os.PathLike[str] | Any  # Any: a DataFrame or a Dataset

R = TypeVar("R", bound=BaseModel)

_MAX_PROBLEMS: Final = 1000  # kept on the error; a million bad rows need not be a million objects
# Columns of the Bank Marketing data (either spelling): a model retrained without one of them simply does not
# need it, so a file that has it is still a good file for that model.
_KNOWN_COLUMNS: Final = frozenset({f.wire_name for f in FEATURES} | {f.python_name for f in FEATURES} | {LABEL.name})


class ColumnsDropped(UserWarning):
    """The input had columns that the endpoint's record does not have; they were not sent (the message names
    them). Its subclass ``LabelColumnDropped`` is used when the label ``y`` is among them."""


class LabelColumnDropped(ColumnsDropped):
    """The input had a label column (``y``) that the endpoint's record does not take; it was not sent."""


class Rows:
    """Records as they came, not yet validated, with the CSV line of each when they came from a file."""

    def __init__(self, records: list[Any], lines: list[int] | None = None) -> None:
        self.records = records
        self.lines = lines

    def __len__(self) -> int:
        return len(self.records)


def to_rows(source: RecordsInput) -> Rows:
    """The records in ``source``, in order, not yet validated."""
    if isinstance(source, Rows):
        return source
    if isinstance(source, BaseModel | Mapping):
        return Rows([source])
    if isinstance(source, str | os.PathLike):
        return _read_csv(Path(source))
    module = type(source).__module__
    if module.startswith("pandas") and hasattr(source, "to_dict"):
        return Rows(list(source.to_dict(orient="records")))  # native Python scalars (pandas boxes them)
    if module.startswith("bankscore.data") and hasattr(source, "records"):
        return Rows(list(source.records()))
    if isinstance(source, Iterable):
        return Rows(list(source))
    raise TypeError(f"cannot score a {type(source).__name__}: pass records, a CSV path or a DataFrame")


class RecordCodec(Generic[R]):
    """Validation and serialization of one record model (a generated ``Record`` or one built from a live spec)."""

    def __init__(self, model: type[R]) -> None:
        self.model = model
        self._list: pydantic.TypeAdapter[list[R]] = pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]
        self._numeric: dict[str, bool] = {}  # key (wire or Python name) -> is an integer field
        names: set[str] = set()
        self._names = names  # every key the model takes, wire and Python names
        for name, info in model.model_fields.items():
            keys = {name, info.serialization_alias or name}
            names |= keys
            kind = _numeric_kind(info.annotation)
            if kind is not None:
                self._numeric.update(dict.fromkeys(keys, kind))
        self.takes_label = LABEL.name in names
        # D's frame columns: every field by wire name, in the model's order.
        self.columns = tuple(info.serialization_alias or name for name, info in model.model_fields.items())

    def validate(self, rows: Rows | list[Any], *, drop_unknown: bool = False, strict: bool = False) -> list[R]:
        """Validate every record; raise ``ValidationError`` listing each problem (nothing is sent).

        Columns the model has no field for are dropped first (see the module docstring): ``strict`` keeps
        every Bank Marketing feature, so that one the model lacks is refused; ``drop_unknown`` also drops
        columns that are not Bank Marketing ones. One ``ColumnsDropped`` warning names what was dropped.
        """
        if not isinstance(rows, Rows):
            rows = Rows(rows)
        if strict and drop_unknown:
            raise ValueError("strict keeps every column the record does not have: it cannot drop unknown ones")
        dropped: dict[str, None] = {}  # columns dropped, in the order first seen
        records_with_dropped = 0
        prepared: list[Any] = []
        for given in rows.records:
            record = given
            if isinstance(record, BaseModel) and not isinstance(record, self.model):
                record = record.model_dump(by_alias=True, exclude_unset=True)  # another spec's record: its values
            if isinstance(record, Mapping):
                record, gone = self._prepare(record, drop_unknown=drop_unknown, strict=strict)
                if gone:
                    records_with_dropped += 1
                    dropped.update(dict.fromkeys(gone))
            prepared.append(record)
        if dropped:
            warnings.warn(
                _dropped_message(list(dropped), records_with_dropped),
                LabelColumnDropped if LABEL.name in dropped else ColumnsDropped,
                stacklevel=3,
            )
        try:
            return self._list.validate_python(prepared)
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False)
            bad = {e["loc"][0] for e in errors if e.get("loc") and isinstance(e["loc"][0], int)}
            problems = [_problem(error, rows.lines) for error in errors[:_MAX_PROBLEMS]]
            raise ValidationError(problems, len(prepared), bad_count=len(bad) or 1) from None

    def dump_json(self, records: list[R]) -> bytes:
        """The records as one JSON array keyed by wire names; optional fields not given are not sent."""
        return self._list.dump_json(records, by_alias=True, exclude_unset=True)

    def encode(self, generation: WireGeneration, records: list[R], method: str) -> bytes:
        """The request body for ``records`` in ``generation`` (the one encoder the client and the bench share)."""
        if generation is WireGeneration.D:
            dumped = self._list.dump_python(records, mode="json", by_alias=True)
            # A frame has a cell for every column: an optional field not given is null there.
            return encode_frame(self.columns, [[row.get(c) for c in self.columns] for row in dumped], method)
        return encode_body(generation, self.dump_json(records), method)

    def columns_to_drop(self, keys: Iterable[str], *, drop_unknown: bool = False, strict: bool = False) -> list[str]:
        """Which of a record's ``keys`` are left out before validation (see ``validate``)."""
        gone = []
        for key in keys:
            if key in self._names:
                continue
            if key == LABEL.name or (key in _KNOWN_COLUMNS and not strict) or drop_unknown:
                gone.append(key)
        return gone

    def _prepare(
        self, record: Mapping[str, Any], *, drop_unknown: bool, strict: bool
    ) -> tuple[dict[str, Any], list[str]]:
        prepared = dict(record)
        gone = self.columns_to_drop(prepared, drop_unknown=drop_unknown, strict=strict)
        for key in gone:
            del prepared[key]
        for key, value in prepared.items():
            integer = self._numeric.get(key)
            if integer is not None:
                prepared[key] = _number(value, integer=integer)
        return prepared, gone


def _dropped_message(columns: list[str], records: int) -> str:
    """One line naming every column dropped, and how many records had any."""
    had = f"{records} record{'s' if records != 1 else ''} had"
    if columns == [LABEL.name]:
        return f"{had} the label column {LABEL.name!r}, which the endpoint does not take: it was not sent"
    names = ", ".join(repr(c) for c in columns)
    return f"{had} columns the endpoint's record does not have, which were not sent: {names}"


def _numeric_kind(annotation: Any) -> bool | None:
    """True for an integer field, False for a number field, None otherwise (``X | None`` counts as X)."""
    for part in _members(annotation):
        if part is int:
            return True
        if part is float:
            return False
    return None


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [member for arg in typing.get_args(annotation) for member in _members(arg)]
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def _number(value: Any, *, integer: bool) -> Any:
    """``value`` read as a number where it is text of one, or a whole float for an integer; else as it is."""
    if isinstance(value, str):
        if not integer:
            # A number field's text is a float: reading it as one at once skips the failed int() (and its
            # exception) that number_from_text tries first; most cells of a CSV take this path.
            try:
                value = float(value)
            except ValueError:
                return value  # left for validation to name
        else:
            number = number_from_text(value)
            if number is None:
                return value  # left for validation to name
            value = number
    if integer and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _problem(error: Any, lines: list[int] | None) -> RecordProblem:
    loc = list(error.get("loc") or ())
    index = loc[0] if loc and isinstance(loc[0], int) else -1
    field = ".".join(str(part) for part in loc[1:]) or "(record)"
    message = str(error.get("msg", "invalid"))
    value = error.get("input")
    if error.get("type") == "missing":
        value = None
    elif error.get("type") == "model_type":
        field, message = "(record)", "must be an object of feature: value"
    elif error.get("type") == "extra_forbidden":
        message = "is not a field of the endpoint's record"
    line = lines[index] if lines is not None and 0 <= index < len(lines) else None
    return RecordProblem(index, field, value, message, line=line)


def _read_csv(path: Path) -> Rows:
    return csv_rows(read_data_file(path), str(path))


def csv_rows(raw: bytes, source: str) -> Rows:
    """Every row of CSV content as a dict of text keyed by its header, with the line each row ends on."""
    lines = CsvLines(raw, source)
    header = [name.strip() for name in next(lines, [])]
    if not any(header):
        raise DataError(source, column_problems=["the file is empty: expected a header row"])
    records: list[Any] = []
    numbers: list[int] = []
    for values in lines:
        if not any(cell.strip() for cell in values):
            continue  # blank lines, often at the end
        if len(values) != len(header):
            problem = f"line {lines.line_num} has {len(values)} cells, the header has {len(header)}"
            raise DataError(source, column_problems=[problem])
        records.append(dict(zip(header, values, strict=True)))
        numbers.append(lines.line_num)
    return Rows(records, numbers)
