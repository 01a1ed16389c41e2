"""The statistics of `bankscore compare` against their definitions and against scipy / scikit-learn."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from bankscore._compare._stats import delong, mcnemar_p, quantiles, wilson


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else 0.5 if x == y else 0.0


def _brute_delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
    """DeLong et al. (1988) by its definition: structural components from every positive-negative pair."""
    pos = [i for i in range(len(y)) if y[i]]
    neg = [j for j in range(len(y)) if not y[j]]
    m, n = len(pos), len(neg)
    v10 = [[sum(_psi(s[i], s[j]) for j in neg) / n for i in pos] for s in (a, b)]
    v01 = [[sum(_psi(s[i], s[j]) for i in pos) / m for j in neg] for s in (a, b)]
    aucs = [sum(v) / m for v in v10]

    def cov(u: list[float], v: list[float]) -> float:
        mu, mv = sum(u) / len(u), sum(v) / len(v)
        return sum((p - mu) * (q - mv) for p, q in zip(u, v, strict=True)) / (len(u) - 1)

    s = [[cov(v10[k], v10[l]) / m + cov(v01[k], v01[l]) / n for l in range(2)] for k in range(2)]  # noqa: E741
    return aucs[0], aucs[1], s[0][0], s[1][1], s[0][1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_matches_the_definition_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(40) < 0.4
    a = np.round(rng.random(40) + 0.4 * y, 1)  # rounded: many ties, within and across classes
    b = np.round(rng.random(40) + 0.2 * y, 1)
    fast = delong(y, a, b)
    assert fast is not None
    auc_a, auc_b, var_a, var_b, cov = _brute_delong(y, a, b)
    assert fast.auc_a == pytest.approx(auc_a, abs=1e-12)
    assert fast.auc_b == pytest.approx(auc_b, abs=1e-12)
    assert fast.var_a == pytest.approx(var_a, abs=1e-12)
    assert fast.var_b == pytest.approx(var_b, abs=1e-12)
    assert fast.cov == pytest.approx(cov, abs=1e-12)
    assert fast.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    z = (auc_b - auc_a) / math.sqrt(var_a + var_b - 2 * cov)
    assert fast.p == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_delong_of_a_model_against_itself_has_no_difference() -> None:
    y = np.array([1, 0, 1, 0, 0, 1], dtype=bool)
    s = np.array([0.9, 0.2, 0.6, 0.6, 0.1, 0.3])
    same = delong(y, s, s)
    assert same is not None and same.diff == 0.0 and same.p == 1.0
    assert delong(np.ones(3, dtype=bool), s[:3], s[:3]) is None  # one class: no AUC


def test_delong_finds_a_clearly_better_model() -> None:
    rng = np.random.default_rng(7)
    y = rng.random(2000) < 0.3
    good = rng.random(2000) + 1.0 * y
    poor = rng.random(2000) + 0.1 * y
    result = delong(y, poor, good)
    assert result is not None and result.diff > 0.2 and result.p < 1e-10
    low, high = result.ci()
    assert low < result.diff < high


@pytest.mark.parametrize(("a_only", "b_only"), [(0, 0), (3, 0), (1, 9), (5, 5), (12, 4)])
def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs(a_only: int, b_only: int) -> None:
    expected = 1.0 if a_only + b_only == 0 else stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert mcnemar_p(a_only, b_only) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_p(a_only, b_only) == pytest.approx(mcnemar_p(b_only, a_only), rel=1e-12)


def test_mcnemar_small_table_by_hand() -> None:
    # b=1, c=6: P(X <= 1 | 7, 1/2) = 8/128, two-sided 16/128.
    assert mcnemar_p(1, 6) == pytest.approx(16 / 128, rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (7, 10), (10, 10), (981, 1000)])
def test_wilson_interval_matches_its_formula(k: int, n: int) -> None:
    z = stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson(k, n)
    assert low == pytest.approx(max(0.0, centre - half), abs=1e-9)
    assert high == pytest.approx(min(1.0, centre + half), abs=1e-9)


def test_quantiles_are_nearest_rank_values() -> None:
    values = np.array([0.3, 0.1, 0.2, 0.4])
    assert quantiles(values, (0.5, 0.9, 1.0)) == [0.2, 0.4, 0.4]
    for q, v in itertools.product((0.25, 0.75), [values]):
        assert quantiles(v, (q,))[0] in v
