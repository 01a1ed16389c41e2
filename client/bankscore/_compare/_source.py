"""The records of a comparison, read in chunks: a CSV file is streamed, never held whole.

A file is read the way the client reads one (``.gz`` too, UTF-8 with or without a byte-order mark, ``;`` when
the header has more of them than commas), one row at a time. ``--sample N`` needs the row count: the file is
read twice (first only counted), and the chosen rows are kept in file order.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bankscore._exceptions import DataError

__all__ = ["Chunk", "DataSource"]


@dataclass(slots=True)
class Chunk:
    """Consecutive records (after sampling): their first index in the comparison, the rows and CSV lines."""

    offset: int
    rows: list[dict[str, Any]]
    lines: list[int] | None


class DataSource:
    """A CSV path or an iterable of mappings, read in chunks of ``size`` rows."""

    def __init__(self, data: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> None:
        self._path: Path | None = None
        self._records: Iterable[Mapping[str, Any]] | None = None
        if isinstance(data, str | os.PathLike):
            self._path = Path(data)
        else:
            self._records = data
        self.name = str(self._path) if self._path is not None else "<records>"

    def count(self) -> int:
        """How many records there are (a file is read through once, cell by cell, to count its rows)."""
        if self._path is None:
            records = self._records
            if not hasattr(records, "__len__"):
                raise ValueError("sampling or progress needs the number of records: pass a list or a CSV path")
            return len(records)  # type: ignore[arg-type]
        return sum(1 for _ in self._rows())

    def chunks(self, size: int, sample: int | None = None, seed: int = 0) -> Iterator[Chunk]:
        keep: bytearray | None = None
        if sample is not None:
            total = self.count()
            keep = bytearray(total)
            # A reproducible sample, not a secret: the standard generator is the right one.
            chooser = random.Random(seed)  # noqa: S311
            for index in chooser.sample(range(total), min(sample, total)):
                keep[index] = 1
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        offset = 0
        for position, (line, row) in enumerate(self._rows()):
            if keep is not None and not keep[position]:
                continue
            rows.append(row)
            lines.append(line)
            if len(rows) == size:
                yield Chunk(offset, rows, lines if self._path is not None else None)
                offset += len(rows)
                rows, lines = [], []
        if rows:
            yield Chunk(offset, rows, lines if self._path is not None else None)

    def _rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if self._path is None:
            assert self._records is not None
            for index, record in enumerate(self._records):
                yield index, dict(record)
            return
        with _open_text(self._path) as text:
            yield from _csv_dicts(text, self.name)


def _open_text(path: Path) -> IO[str]:
    try:
        # Returned open: the caller's ``with`` on the text wrapper closes it.
        raw: IO[bytes] = gzip.open(path) if path.suffix == ".gz" else path.open("rb")  # type: ignore[assignment]  # noqa: SIM115
    except OSError as exc:
        raise DataError(str(path), column_problems=[f"cannot read the file: {exc.strerror or exc}"]) from None
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _csv_dicts(text: IO[str], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        first = text.readline()
        delimiter = ";" if first.count(";") > first.count(",") else ","
        header = [name.strip() for name in next(csv.reader([first], delimiter=delimiter), [])]
        if not any(header):
            raise DataError(source, column_problems=["the file is empty: expected a header row"])
        reader = csv.reader(text, delimiter=delimiter, quotechar='"')
        for values in reader:
            if not any(cell.strip() for cell in values):
                continue  # blank lines, often at the end
            line = reader.line_num + 1  # the header was read before the reader started counting
            if len(values) != len(header):
                problem = f"line {line} has {len(values)} cells, the header has {len(header)}"
                raise DataError(source, column_problems=[problem])
            yield line, dict(zip(header, values, strict=True))
    except UnicodeDecodeError as exc:
        raise DataError(source, column_problems=[f"not UTF-8 text (byte {exc.start}): {exc.reason}"]) from None
    except (csv.Error, OSError, EOFError) as exc:
        raise DataError(source, column_problems=[f"cannot read the CSV: {exc}"]) from None
