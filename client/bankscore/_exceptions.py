"""bankscore's exceptions. Every error bankscore raises on purpose is a ``BankscoreError``.

The tree::

    BankscoreError
     └── DataError        a data file (CSV) that does not fit the feature contract; nothing was loaded

Messages name the file, the column, the line and the value at fault, and never contain a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bankscore.features import ValueProblem

__all__ = ["BankscoreError", "DataError", "RowProblems"]


class BankscoreError(Exception):
    """Base class of every error bankscore raises on purpose."""


@dataclass(frozen=True, slots=True)
class RowProblems:
    """The problems of one data row. ``line`` is the 1-based line number in the file (the header is line 1)."""

    line: int
    problems: tuple[ValueProblem, ...]

    def __str__(self) -> str:
        return f"line {self.line}: " + "; ".join(str(p) for p in self.problems)


@dataclass(eq=False)
class DataError(BankscoreError):
    """A data file does not fit the feature contract. It lists every offending column and the first bad rows."""

    source: str
    column_problems: list[str] = field(default_factory=list)
    row_problems: list[RowProblems] = field(default_factory=list)
    bad_row_count: int = 0
    row_count: int = 0

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [f"{self.source} does not fit the Bank Marketing feature contract; nothing was loaded."]
        if self.column_problems:
            parts.append("Columns:")
            parts.extend(f"  - {problem}" for problem in self.column_problems)
        if self.row_problems:
            shown = len(self.row_problems)
            head = f"Rows: {self.bad_row_count} of {self.row_count} have bad values"
            parts.append(head + (f" (the first {shown} below):" if shown < self.bad_row_count else ":"))
            parts.extend(f"  - {rp}" for rp in self.row_problems)
        return "\n".join(parts)
