"""A profile of a data set: rows, class balance, per-column statistics and category counts."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bankscore.data._dataset import Dataset
from bankscore.features import LABEL, FeatureKind

__all__ = ["CategoryProfile", "NumericProfile", "Profile", "profile"]


@dataclass(frozen=True, slots=True)
class NumericProfile:
    name: str
    count: int
    mean: float
    std: float
    min: float
    p25: float
    median: float
    p75: float
    max: float
    contract_min: float | None
    contract_max: float | None


@dataclass(frozen=True, slots=True)
class CategoryProfile:
    """Counts for every category the contract allows, zero included (``month=jan`` never occurs in training)."""

    name: str
    count: int
    counts: dict[str, int]

    @property
    def unseen(self) -> list[str]:
        return [cat for cat, n in self.counts.items() if n == 0]


@dataclass(frozen=True)
class Profile:
    source: str
    sha256: str
    rows: int
    label_counts: dict[str, int] = field(default_factory=dict)
    numeric: list[NumericProfile] = field(default_factory=list)
    categories: list[CategoryProfile] = field(default_factory=list)

    @property
    def positive_rate(self) -> float | None:
        if not self.label_counts:
            return None
        return self.label_counts.get(LABEL.positive, 0) / self.rows

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: the same numbers the text form shows."""
        data = asdict(self)
        data["positive_rate"] = self.positive_rate
        return data

    def render(self) -> str:
        """A text form for people."""
        lines = [f"{self.source}", f"sha256 {self.sha256}", f"rows {self.rows:,}"]
        if self.label_counts:
            balance = ", ".join(f"{k} {v:,} ({v / self.rows:.1%})" for k, v in self.label_counts.items())
            lines.append(f"label {LABEL.name}: {balance}")
        lines.append("")
        head = (
            f"{'numeric column':<16}{'mean':>10}{'std':>10}{'min':>10}{'p25':>10}{'median':>10}{'p75':>10}{'max':>10}"
        )
        lines.append(head)
        for n in self.numeric:
            stats = (n.mean, n.std, n.min, n.p25, n.median, n.p75, n.max)
            lines.append(f"{n.name:<16}" + "".join(f"{_short(v):>10}" for v in stats))
        lines.append("")
        for c in self.categories:
            parts = ", ".join(f"{cat} {count:,}" for cat, count in sorted(c.counts.items(), key=lambda kv: -kv[1]))
            lines.append(f"{c.name}: {parts}")
        return "\n".join(lines)


def _short(value: float) -> str:
    if value == int(value) and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.1f}"


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), so profiles match pandas' describe()."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def profile(dataset: Dataset) -> Profile:
    """Compute the profile of a loaded data set."""
    numeric: list[NumericProfile] = []
    categories: list[CategoryProfile] = []
    for feat in dataset.features:
        values = dataset.columns[feat.wire_name]
        if feat.kind is FeatureKind.CATEGORY:
            seen = Counter(str(v) for v in values)
            categories.append(
                CategoryProfile(feat.wire_name, len(values), {c: seen.get(c, 0) for c in feat.categories})
            )
            continue
        nums = sorted(float(v) for v in values)
        numeric.append(
            NumericProfile(
                name=feat.wire_name,
                count=len(nums),
                mean=statistics.fmean(nums),
                std=statistics.stdev(nums) if len(nums) > 1 else 0.0,
                min=nums[0],
                p25=_quantile(nums, 0.25),
                median=_quantile(nums, 0.5),
                p75=_quantile(nums, 0.75),
                max=nums[-1],
                contract_min=feat.minimum,
                contract_max=feat.maximum,
            )
        )
    label_counts: dict[str, int] = {}
    if dataset.has_label:
        seen = Counter(dataset.labels)
        label_counts = {c: seen.get(c, 0) for c in LABEL.classes}
    return Profile(dataset.source, dataset.sha256, len(dataset), label_counts, numeric, categories)
