"""From the run's per-record arrays to the figures of a ``CompareResult``, and the gates on them."""

from __future__ import annotations

from typing import Any

import numpy as np

from bankscore._compare._concentration import Concentration
from bankscore._compare._result import CompareResult, DeltaP, Gate, Latency, Paired, Samples, Side
from bankscore._compare._run import Collected
from bankscore._compare._stats import delong, mcnemar_p, quantiles, wilson

__all__ = ["gates", "summarize"]


def summarize(
    run: Collected,
    *,
    names: tuple[str, str],
    uris: tuple[str, str],
    generations: tuple[str, str],
    concentration: Concentration | None,
    min_hotspot_count: int | None = None,
) -> CompareResult:
    # Views of the run's arrays, not copies: a million records must not cost their memory twice.
    p_a = np.frombuffer(run.p_a, dtype=np.float64)
    p_b = np.frombuffer(run.p_b, dtype=np.float64)
    label_a = np.frombuffer(run.label_a, dtype=np.int16)
    label_b = np.frombuffer(run.label_b, dtype=np.int16)
    truth = np.frombuffer(run.truth, dtype=np.int8)
    both = (label_a >= 0) & (label_b >= 0)
    n = int(both.sum())
    agree = int((both & (label_a == label_b)).sum())
    names_by_code = {code: name for name, code in run.labels.items()}
    crosstab: dict[str, dict[str, int]] = {}
    if n:
        width = len(run.labels)
        cells = np.bincount(label_a[both].astype(np.int64) * width + label_b[both], minlength=width * width)
        for cell in np.flatnonzero(cells).tolist():
            crosstab.setdefault(names_by_code[cell // width], {})[names_by_code[cell % width]] = int(cells[cell])

    with_p = both & ~np.isnan(p_a) & ~np.isnan(p_b)
    delta_p = None
    if with_p.any():
        moved = p_b - p_a if with_p.all() else p_b[with_p] - p_a[with_p]
        np.abs(moved, out=moved)
        p50, p90, p99, top = quantiles(moved, (0.5, 0.9, 0.99, 1.0))
        delta_p = DeltaP(
            int(with_p.sum()), p50, p90, p99, top, float((moved > 0.05).mean()), float((moved > 0.10).mean())
        )

    labelled = both & (truth >= 0)
    positive_a = label_a == run.labels.get("yes", 1)
    positive_b = label_b == run.labels.get("yes", 1)
    right_a = (positive_a == (truth == 1))[labelled]
    right_b = (positive_b == (truth == 1))[labelled]
    accuracy = (float(right_a.mean()), float(right_b.mean())) if labelled.any() else (None, None)
    scored = labelled & with_p
    auc = None
    if scored.all():  # the usual case: views, no copies
        auc = delong(truth == 1, p_a, p_b)
    elif scored.any():
        auc = delong(truth[scored] == 1, p_a[scored], p_b[scored])
    paired = None
    if labelled.any():
        a_only, b_only = int((right_a & ~right_b).sum()), int((right_b & ~right_a).sum())
        paired = Paired(
            labelled=int(labelled.sum()),
            auc_diff=auc.diff if auc else None,
            auc_diff_ci=auc.ci() if auc else None,
            auc_p=auc.p if auc else None,
            accuracy_diff=float(right_b.mean() - right_a.mean()),
            mcnemar_p=mcnemar_p(a_only, b_only),
            right_by_a_only=a_only,
            right_by_b_only=b_only,
        )
    lat_a = np.frombuffer(run.latency_a, dtype=np.float64)
    lat_b = np.frombuffer(run.latency_b, dtype=np.float64)
    sides = []
    for k, (lat, errors, reasons) in enumerate(
        ((lat_a, run.errors_a, run.reasons_a), (lat_b, run.errors_b, run.reasons_b))
    ):
        q = quantiles(lat, (0.5, 0.9, 0.99)) if lat.size else [None, None, None]
        sides.append(
            Side(
                name=names[k],
                uri=uris[k],
                generation=generations[k],
                auc=(auc.auc_a if k == 0 else auc.auc_b) if auc else None,
                accuracy=accuracy[k],
                latency_ms=Latency(q[0], q[1], q[2], int(lat.size)),
                errors=errors,
                failures=tuple(reasons),
            )
        )
    hotspots: tuple[Any, ...] = ()
    if concentration is not None:
        minimum = min_hotspot_count if min_hotspot_count is not None else max(20, n // 1000)
        hotspots = tuple(concentration.hotspots(min_count=minimum))
    return CompareResult(
        records=len(run.label_a),
        n=n,
        agreement=agree / n if n else None,
        agreement_ci=wilson(agree, n),
        crosstab=crosstab,
        delta_p=delta_p,
        a=sides[0],
        b=sides[1],
        paired=paired,
        hotspots=hotspots,
        interrupted=run.interrupted,
        samples=Samples(p_a, p_b, lat_a, lat_b),
    )


def gates(
    result: CompareResult,
    *,
    max_disagreement: float | None = None,
    max_auc_drop: float | None = None,
    max_latency_ratio: float | None = None,
) -> tuple[Gate, ...]:
    """The gates asked for, each measured on ``result``; a gate that cannot be measured fails."""
    found = []
    if max_disagreement is not None:
        value = 1 - result.agreement if result.agreement is not None else None
        found.append(_gate("max_disagreement", max_disagreement, value, "no record was scored by both sides"))
    if max_auc_drop is not None:
        a, b = result.a.auc, result.b.auc
        value = a - b if a is not None and b is not None else None
        found.append(_gate("max_auc_drop", max_auc_drop, value, _why_no_auc(result)))
    if max_latency_ratio is not None:
        p90_a, p90_b = result.a.latency_ms.p90, result.b.latency_ms.p90
        value = p90_b / p90_a if p90_a and p90_b is not None else None
        found.append(_gate("max_latency_ratio", max_latency_ratio, value, "a side answered no request"))
    return tuple(found)


def _gate(name: str, limit: float, value: float | None, missing: str) -> Gate:
    if value is None:
        return Gate(name, limit, None, False, f"not measured: {missing}")
    return Gate(name, limit, value, value <= limit)


def _why_no_auc(result: CompareResult) -> str:
    if result.paired is None:
        return "the data has no labels (a y column, or --label)"
    return "AUC needs P(yes) from both sides and both classes among the labelled records"
