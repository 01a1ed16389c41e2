"""Where the two sides disagree: the disagreement rate per feature value, in bounded memory.

Every record adds one count per feature value (its category, or its number), and a disagreeing record also a
disagreement. Numbers are put into quantile bins at the end, from the counts of each distinct value, so no
column is kept. A numeric column with very many distinct values is coarsened (fewer significant digits) as it
grows: memory stays bounded whatever the data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bankscore.features import FEATURES, FeatureKind

__all__ = ["Concentration", "Hotspot"]

_MAX_DISTINCT: Final = 20_000
_BINS: Final = 10


@dataclass(frozen=True, slots=True)
class Hotspot:
    """A feature value (a category, or a number range ``[low, high]``) and how often the sides disagree there."""

    feature: str
    value: str
    count: int
    disagreements: int

    @property
    def rate(self) -> float:
        return self.disagreements / self.count if self.count else 0.0


class Concentration:
    def __init__(self, columns: Iterable[str]) -> None:
        known = {f.wire_name: f for f in FEATURES}
        present = [c for c in columns if c in known]
        self._numeric = {c: known[c].kind is not FeatureKind.CATEGORY for c in present}
        self._totals: dict[str, Counter[Any]] = {c: Counter() for c in present}
        self._disagreements: dict[str, Counter[Any]] = {c: Counter() for c in present}
        self._digits = dict.fromkeys(present, 12)

    def add(self, rows: list[Mapping[str, Any]], disagree: list[bool]) -> None:
        differing = [row for row, d in zip(rows, disagree, strict=True) if d]
        for column, totals in self._totals.items():
            if self._numeric[column]:
                digits = self._digits[column]
                totals.update(_number(row.get(column), digits) for row in rows)
                self._disagreements[column].update(_number(row.get(column), digits) for row in differing)
                if len(totals) > _MAX_DISTINCT:
                    self._coarsen(column)
            else:
                totals.update(str(row.get(column)) for row in rows)
                self._disagreements[column].update(str(row.get(column)) for row in differing)

    def _coarsen(self, column: str) -> None:
        while len(self._totals[column]) > _MAX_DISTINCT // 2 and self._digits[column] > 1:
            self._digits[column] -= 1
            digits = self._digits[column]
            for table in (self._totals, self._disagreements):
                merged: Counter[Any] = Counter()
                for value, count in table[column].items():
                    merged[_round(value, digits)] += count
                table[column] = merged

    def hotspots(self, top: int = 10, min_count: int = 20) -> list[Hotspot]:
        """The ``top`` feature values with the highest disagreement rate among those with ``min_count`` records."""
        found: list[Hotspot] = []
        for column, totals in self._totals.items():
            wrong = self._disagreements[column]
            if self._numeric[column]:
                found.extend(_binned(column, totals, wrong))
            else:
                found.extend(Hotspot(column, str(value), count, wrong[value]) for value, count in totals.items())
        ranked = [h for h in found if h.count >= min_count and h.disagreements > 0]
        ranked.sort(key=lambda h: (-h.rate, -h.count, h.feature, h.value))
        return ranked[:top]


def _number(value: Any, digits: int) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return _round(number, digits) if math.isfinite(number) else None


def _round(value: float | None, digits: int) -> float | None:
    if value is None or value == 0:
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _binned(column: str, totals: Counter[Any], wrong: Counter[Any]) -> list[Hotspot]:
    """Quantile bins of the distinct values: a value's bin is where its first record falls in the order."""
    numbers = sorted(v for v in totals if v is not None)
    total = sum(totals[v] for v in numbers)
    bins: dict[int, list[float]] = {}
    counts: dict[int, list[int]] = {}
    seen = 0
    for value in numbers:
        index = min(_BINS - 1, seen * _BINS // total)
        seen += totals[value]
        bins.setdefault(index, []).append(value)
        pair = counts.setdefault(index, [0, 0])
        pair[0] += totals[value]
        pair[1] += wrong[value]
    spots = [Hotspot(column, _range(values[0], values[-1]), counts[i][0], counts[i][1]) for i, values in bins.items()]
    if totals[None]:
        spots.append(Hotspot(column, "(not a number)", totals[None], wrong[None]))
    return spots


def _range(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"[{low:g}, {high:g}]"
