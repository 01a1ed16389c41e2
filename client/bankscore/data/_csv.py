"""Read a Bank Marketing CSV (comma- or semicolon-separated, label optional) and check it whole.

A file either loads completely or raises one ``DataError`` that lists every offending column and the first
offending rows with their values: a half-loaded file would silently train or score on less than was given.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Literal

from bankscore._csv_text import CsvLines, read_data_file
from bankscore._exceptions import DataError, RowProblems
from bankscore.data._dataset import Dataset, Value
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL, Feature, ValueProblem, parse_value

__all__ = ["MAX_ROWS_SHOWN", "load_csv", "parse_csv_bytes"]

MAX_ROWS_SHOWN = 10  # bad rows listed in the error; all of them are counted

_ALL_FEATURES = frozenset(FEATURE_NAMES)

ExtraColumns = Literal["error", "ignore"]


def load_csv(
    path: str | os.PathLike[str],
    *,
    features: tuple[Feature, ...] = FEATURES,
    extra_columns: ExtraColumns = "error",
    require_label: bool = False,
) -> Dataset:
    """Load and check a CSV file (``.gz`` is decompressed). Raises ``DataError`` if anything does not fit.

    ``features`` is the set of input columns the file must have (a model trained without ``duration`` takes
    files without it); ``extra_columns="ignore"`` skips columns the contract does not know, such as an id.
    """
    file = Path(path)
    raw = read_data_file(file)
    return parse_csv_bytes(
        raw, source=str(file), features=features, extra_columns=extra_columns, require_label=require_label
    )


def parse_csv_bytes(
    raw: bytes,
    *,
    source: str,
    features: tuple[Feature, ...] = FEATURES,
    extra_columns: ExtraColumns = "error",
    require_label: bool = False,
) -> Dataset:
    """Check CSV content given as bytes; ``source`` names it in errors."""
    lines = CsvLines(raw, source)
    header = [name.strip() for name in next(lines, [])]
    if not header or header == [""]:
        raise DataError(source, column_problems=["the file is empty: expected a header row with the column names"])

    positions = _check_header(header, source, features, extra_columns, require_label)
    columns: dict[str, list[Value]] = {name: [] for name in positions}
    bad_rows: list[RowProblems] = []
    bad_row_count = 0
    row_count = 0
    label_column = positions.get(LABEL.name)
    by_name = {f.wire_name: f for f in features}
    for values in lines:
        line = lines.line_num
        if not values or values == [""] * len(values):
            continue  # blank lines, often at the end
        row_count += 1
        problems: list[ValueProblem] = []
        if len(values) != len(header):
            problems.append(
                ValueProblem(
                    "(row)", lines.delimiter.join(values), f"has {len(values)} cells, the header has {len(header)}"
                )
            )
        else:
            for name, index in positions.items():
                cell = values[index]
                if index == label_column:
                    if cell not in LABEL.classes:
                        problems.append(ValueProblem(name, cell, f"is not one of {', '.join(LABEL.classes)}"))
                    else:
                        columns[name].append(cell)
                    continue
                parsed = parse_value(by_name[name], cell)
                if isinstance(parsed, ValueProblem):
                    problems.append(parsed)
                else:
                    columns[name].append(parsed)
        if problems:
            bad_row_count += 1
            if len(bad_rows) < MAX_ROWS_SHOWN:
                bad_rows.append(RowProblems(line, tuple(problems)))
    if bad_row_count:
        raise DataError(source, row_problems=bad_rows, bad_row_count=bad_row_count, row_count=row_count)
    if row_count == 0:
        raise DataError(source, column_problems=["the file has a header but no data rows"])
    # Keep the contract's column order whatever the file's order was.
    ordered = {f.wire_name: columns[f.wire_name] for f in features}
    if label_column is not None:
        ordered[LABEL.name] = columns[LABEL.name]
    return Dataset(columns=ordered, source=source, sha256=hashlib.sha256(raw).hexdigest(), features=features)


def _check_header(
    header: list[str],
    source: str,
    features: tuple[Feature, ...],
    extra_columns: ExtraColumns,
    require_label: bool,
) -> dict[str, int]:
    """Map each wanted column to its position, or raise with every column problem at once."""
    problems: list[str] = []
    positions: dict[str, int] = {}
    wanted = {f.wire_name for f in features} | {LABEL.name}
    python_names = {f.python_name: f.wire_name for f in features if f.python_name != f.wire_name}
    for index, name in enumerate(header):
        if name in positions:
            problems.append(f"{name!r} appears more than once (columns {positions[name] + 1} and {index + 1})")
        elif name in wanted:
            positions[name] = index
        elif name in _ALL_FEATURES:
            continue  # a contract column this model does not use (duration for a realistic model)
        elif name in python_names:
            problems.append(f"{name!r} (column {index + 1}) should be spelled {python_names[name]!r}, its wire name")
        elif extra_columns == "error":
            problems.append(f"{name!r} (column {index + 1}) is not a Bank Marketing column")
    for feat in features:
        if feat.wire_name not in positions and feat.python_name not in header:
            problems.append(f"{feat.wire_name!r} is missing")
    if require_label and LABEL.name not in positions:
        problems.append(f"the label {LABEL.name!r} is missing (needed for training)")
    if problems:
        hint = f"expected columns: {', '.join(f.wire_name for f in features)} and optionally {LABEL.name}"
        raise DataError(source, column_problems=[*problems, hint])
    return positions
