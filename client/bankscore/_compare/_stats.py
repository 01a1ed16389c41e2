"""The statistics of a comparison: library code where it exists, the fast DeLong where it does not.

* Agreement's 95 % interval: Wilson's score interval (``scipy.stats.binomtest(...).proportion_ci``).
* Accuracy, paired: McNemar's exact test, the two-sided binomial test of the discordant pairs against 1/2
  (``scipy.stats.binomtest``), which is what statsmodels' ``mcnemar(exact=True)`` computes.
* AUC, paired: DeLong, DeLong & Clarke-Pearson (1988) in the O(n log n) form of Sun & Xu (2014): the AUCs
  and their covariance from each record's structural component (its midrank difference, counted by binary
  search), then a two-sided z test of the difference. Neither scipy nor scikit-learn has it;
  ``tests/bankscore/compare/test_compare_stats.py`` checks it against the definition.
* Quantiles: nearest rank (numpy ``method="inverted_cdf"``), the rule of ``bankscore-bench``: every
  reported quantile is one of the values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["DeLong", "delong", "mcnemar_p", "quantiles", "wilson"]

FloatArray = npt.NDArray[np.float64]


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion; (0, 1) when there is nothing to estimate from."""
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def mcnemar_p(a_only: int, b_only: int) -> float:
    """Exact McNemar p-value from the discordant pairs: right by A only, right by B only."""
    if a_only + b_only == 0:
        return 1.0
    return float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def quantiles(values: FloatArray, points: Sequence[float]) -> list[float]:
    """Nearest-rank quantiles (``points`` in 0..1) of ``values``; NaN for no values."""
    if values.size == 0:
        return [float("nan")] * len(points)
    return [float(q) for q in np.quantile(values, list(points), method="inverted_cdf")]


@dataclass(frozen=True, slots=True)
class DeLong:
    """Two AUCs on the same cases, their covariance and the test of their difference (``b - a``)."""

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    cov: float

    @property
    def diff(self) -> float:
        return self.auc_b - self.auc_a

    @property
    def se(self) -> float:
        return float(np.sqrt(max(self.var_a + self.var_b - 2 * self.cov, 0.0)))

    @property
    def p(self) -> float:
        """Two-sided p-value of ``auc_b == auc_a`` (1 when the difference has no variance: identical scores)."""
        if self.se == 0.0:
            return 1.0 if self.diff == 0.0 else 0.0
        return float(2 * stats.norm.sf(abs(self.diff) / self.se))

    def ci(self, confidence: float = 0.95) -> tuple[float, float]:
        z = float(stats.norm.ppf(0.5 + confidence / 2))
        return (self.diff - z * self.se, self.diff + z * self.se)


def delong(y: npt.NDArray[np.bool_], score_a: FloatArray, score_b: FloatArray) -> DeLong | None:
    """The fast DeLong of Sun & Xu (2014); ``None`` unless both classes are present.

    The structural components come from binary searches in each class's sorted scores (the midrank
    differences of Sun & Xu, counted directly), one classifier at a time: a million records need a few arrays
    of a million, not a matrix of them.
    """
    positives = np.asarray(y, dtype=bool)
    m, n = int(positives.sum()), int((~positives).sum())
    if m == 0 or n == 0:
        return None
    aucs: list[float] = []
    v10: list[FloatArray] = []  # per positive: the share of negatives it outranks (ties count 1/2)
    v01: list[FloatArray] = []  # per negative: the share of positives that outrank it
    for score in (score_a, score_b):
        x, z = score[positives], score[~positives]  # in record order: the components pair up across models
        high = _below(np.sort(z), x) / n
        v01.append(1.0 - _below(np.sort(x), z) / m)
        aucs.append(float(high.mean()))
        v10.append(high)
        del x, z
    cov = _cov(v10) / m + _cov(v01) / n
    return DeLong(aucs[0], aucs[1], float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1]))


def _below(ordered: FloatArray, values: FloatArray) -> FloatArray:
    """For each of ``values``: how many of ``ordered`` (sorted) lie below it, a tie counting one half."""
    out = np.searchsorted(ordered, values, side="left").astype(np.float64)
    out += np.searchsorted(ordered, values, side="right")
    out *= 0.5
    return out


def _cov(rows: list[FloatArray]) -> FloatArray:
    """The 2x2 sample covariance of two equally long rows (zero for a single sample)."""
    size = rows[0].size
    if size < 2:
        return np.zeros((2, 2))
    means = [float(r.mean()) for r in rows]
    out = np.empty((2, 2))
    for i in range(2):
        for j in range(i, 2):
            total = float(np.dot(rows[i], rows[j])) - size * means[i] * means[j]
            out[i, j] = out[j, i] = total / (size - 1)
    return out
