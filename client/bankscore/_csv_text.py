"""CSV files read the one way both the client's inputs and the data checks read them.

A file may be gzip-compressed (``.gz``); text is UTF-8, with or without Excel's byte-order mark; the separator
is ``;`` when the header has more of them than commas (UCI's own files), else ``,``. Whatever the csv module
refuses (a field over its 131,072-character limit) is a ``DataError`` naming the line, not a traceback.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

from bankscore._exceptions import DataError

__all__ = ["CsvLines", "read_data_file", "unreadable_file"]


def unreadable_file(path: Path, error: OSError) -> DataError:
    """The error for a file that cannot be read at all: what is wrong with the path, not with the data."""
    if isinstance(error, FileNotFoundError):
        reason = f"no such file: {path}"
    elif isinstance(error, IsADirectoryError):
        reason = f"not a file but a folder: {path}"
    else:
        reason = f"cannot read {path}: {error.strerror or error}"
    return DataError(str(path), unreadable=reason)


def read_data_file(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in ``.gz``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise unreadable_file(path, exc) from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(str(path), column_problems=[f"not a readable gzip file: {exc}"]) from None
    return raw


class CsvLines:
    """The rows of CSV content, each a list of cells; ``line_num`` is the line the last row ended on."""

    def __init__(self, raw: bytes, source: str) -> None:
        try:
            text = raw.decode("utf-8-sig")  # Excel writes a byte-order mark
        except UnicodeDecodeError as exc:
            raise DataError(source, column_problems=[f"not UTF-8 text (byte {exc.start}): {exc.reason}"]) from None
        first_line = text.split("\n", 1)[0]
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        self.delimiter = delimiter
        self.source = source
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
        self._rows = self._read()

    @property
    def line_num(self) -> int:
        return self._reader.line_num

    def __iter__(self) -> Iterator[list[str]]:
        return self._rows

    def __next__(self) -> list[str]:
        return next(self._rows)

    def _read(self) -> Iterator[list[str]]:
        try:
            yield from self._reader
        except csv.Error as exc:
            raise DataError(self.source, column_problems=[f"line {self._reader.line_num}: {exc}"]) from None
