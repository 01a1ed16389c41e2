"""Exact statistics over a run's sample log: the numbers ab and Locust round away.

Every figure comes from the raw microsecond columns of ``SampleLog``; nothing is bucketed or resampled.

Which requests count
    *Latency* statistics use every request that got a response: ``failure`` is NONE, LENGTH or BAD_BODY,
    whatever the status code. That is ab's rule (ab.c ``close_connection()`` times every response, length
    failures and non-2xx included) and k6's ``http_req_duration``. Requests that never got a response
    (connect, receive, exception failures) have no latency and count only as errors.
    *Errors* are every request that is not ``ok``; ``ok`` means no failure and a 2xx status. So
    ``errors = failed + non-2xx``, each request counted once.
    *Successful latency* (``ok_latency``) uses the ok requests only: thresholds and SLOs read it, so a fast
    401 or 503 cannot make a latency goal pass (k6's ``http_req_duration{expected_response:true}``).

Percentile rule (nearest rank, numpy ``method="inverted_cdf"``)
    pX is the smallest sample v such that at least X % of the samples are <= v: with the n samples sorted
    ascending, the value at 1-based rank ``ceil(n * X / 100)``. The rank is computed in exact rational
    arithmetic, so it never depends on how X rounds as a float. By construction every percentile is one of
    the samples, percentiles never decrease as X grows, and none exceeds the maximum (rank <= n).
    (ab's own stdout table uses 0-based ``floor(n * X / 100)``, one rank higher whenever n*X/100 is whole;
    the ab report reproduces that separately.)

Open loop (``RunInfo.rate`` set)
    The *uncorrected* latency runs from the actual start of a request (ab's Total). The *corrected* latency
    runs from the time it was scheduled (``intended_us``), which is what a caller of an open-loop service
    waits, including the time the generator could not send it (coordinated omission; wrk2's model).
    Both views are always computed for open loop; ``corrected`` chooses which one is the *headline* (the
    one thresholds, the sweep and the timeline use). Default: corrected for open loop, uncorrected for
    closed loop.

Spread
    ``sd_ms`` is the sample standard deviation (n - 1), as ab prints it; 0 for a single sample.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Final

import numpy as np
import numpy.typing as npt

from bankscore_bench._samples import Failure, RunInfo, SampleLog

__all__ = [
    "REPORTED_PERCENTILES",
    "LatencyStats",
    "PercentileValidity",
    "Second",
    "Summary",
    "completion_and_latency_us",
    "percentile_label",
    "percentile_us",
    "summarize",
    "timeline",
]

Int64Array = npt.NDArray[np.int64]

# ab's nine rows plus Locust's p99.9 and p99.99; exact fractions so the rank never suffers float rounding.
REPORTED_PERCENTILES: Final[tuple[Fraction, ...]] = tuple(
    Fraction(text) for text in ("50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99")
)
# Failures that still delivered a response (and so a latency): see the module docstring.
_RESPONDED_FAILURES: Final = (Failure.NONE, Failure.LENGTH, Failure.BAD_BODY)
VALIDITY_CONFIDENCE: Final = Fraction(99, 100)  # MLPerf LoadGen's early-stopping confidence


def percentile_label(percent: Fraction) -> str:
    """``Fraction(999, 10)`` -> ``"p99.9"``: the stable key used in JSON, CSV and thresholds."""
    text = f"{float(percent):.6f}".rstrip("0").rstrip(".")
    return f"p{text}"


def _rank(count: int, percent: Fraction) -> int:
    """1-based nearest rank of ``percent`` among ``count`` sorted samples (at least 1)."""
    return max(1, math.ceil(count * percent / 100))


def percentile_us(sorted_us: Int64Array, percent: Fraction) -> int:
    """Exact pX of ascending-sorted samples by the nearest-rank rule; ``percent`` in (0, 100]."""
    if not 0 < percent <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {float(percent)}")
    if len(sorted_us) == 0:
        raise ValueError("no samples")
    return int(sorted_us[_rank(len(sorted_us), percent) - 1])


@dataclasses.dataclass(frozen=True, slots=True)
class PercentileValidity:
    """MLPerf-style check of one percentile claim at 99 % confidence (LoadGen's early stopping).

    The claim "pX <= v" is supported when, were the true pX above v, seeing at most the observed number of
    slower requests would have had probability <= 1 %: a one-sided binomial test, as LoadGen's early stopping.
    ``bound_us`` is the smallest sample for which the claim holds (a conservative pX; >= the exact pX), or
    None when the run is too short. ``min_requests`` is the shortest run that can support any claim: the
    claim with zero slower requests, ``X^n <= 1 %`` (p99: 459 requests).
    """

    percent: Fraction
    requests: int
    min_requests: int
    bound_us: int | None

    @property
    def valid(self) -> bool:
        return self.bound_us is not None


@dataclasses.dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency of the responded requests in one view (uncorrected or corrected), in µs except the float ms."""

    count: int
    min_us: int
    max_us: int
    mean_ms: float
    sd_ms: float
    percentiles_us: dict[str, int]  # percentile_label -> µs: REPORTED_PERCENTILES in order, then any extras
    validity: tuple[PercentileValidity, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    """Everything a report says about a run, computed exactly from its samples."""

    requests: int  # every row of the log: requests the generator started
    responded: int  # requests that got a response (ab's Complete requests when nothing failed to connect)
    ok: int  # no failure and a 2xx status
    failed: dict[str, int]  # Failure name (lower case) -> count, only kinds that occurred
    non_2xx: dict[int, int]  # status -> count for responses outside 200-299, ascending
    errors: int  # requests - ok (failed and non-2xx, each request once)
    duration_s: float  # RunInfo.time_taken_s (first start to last completion)
    requests_per_s: float  # requests / duration; 0.0 when the duration is 0
    ok_per_s: float
    records: int  # records scored by ok requests
    records_per_s: float
    bytes_read: int
    body_bytes: int
    bytes_sent: int
    open_loop: bool
    corrected: bool  # the headline view is the corrected one
    uncorrected_latency: LatencyStats | None  # None when nothing responded
    corrected_latency: LatencyStats | None  # open loop (or corrected=True) and something responded
    late: int
    dropped: int
    ok_uncorrected_latency: LatencyStats | None = None  # the same views over the ok requests only
    ok_corrected_latency: LatencyStats | None = None

    @property
    def error_rate(self) -> float:
        """Share of requests that are not ok (0.0 for an empty run)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def latency(self) -> LatencyStats | None:
        """The headline view: corrected for open loop by default, else uncorrected."""
        return self.corrected_latency if self.corrected else self.uncorrected_latency

    @property
    def ok_latency(self) -> LatencyStats | None:
        """The headline view over the ok requests only (what thresholds read); None when none was ok."""
        return self.ok_corrected_latency if self.corrected else self.ok_uncorrected_latency


@dataclasses.dataclass(frozen=True, slots=True)
class Second:
    """One second of the run, bucketed by completion time (start + total) from ``RunInfo.started_us``."""

    second: int  # 0 = the run's first second
    requests: int  # requests that completed (or failed) in this second
    ok: int
    errors: int
    records: int
    bytes_read: int
    requests_per_s: float  # requests / the part of this second inside the run (the last one may be partial)
    p50_us: int | None  # headline latency of the responses in this second; None when none responded
    p95_us: int | None
    p99_us: int | None


def _column(log: SampleLog, name: str) -> Int64Array:
    # array('q') exports its buffer: a zero-copy int64 view.
    return np.frombuffer(getattr(log, name), dtype=np.int64)


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _ok_mask(log: SampleLog) -> npt.NDArray[np.bool_]:
    status = _column(log, "status")
    mask: npt.NDArray[np.bool_] = (_column(log, "failure") == int(Failure.NONE)) & (status >= 200) & (status <= 299)
    return mask


def _responded_mask(log: SampleLog) -> npt.NDArray[np.bool_]:
    failure = _column(log, "failure")
    mask: npt.NDArray[np.bool_] = np.isin(failure, [int(kind) for kind in _RESPONDED_FAILURES])
    return mask


def _latency_us(log: SampleLog, *, corrected: bool) -> Int64Array:
    total = _column(log, "total_us")
    if not corrected:
        return total
    return _column(log, "start_us") - _column(log, "intended_us") + total


def completion_and_latency_us(log: SampleLog, *, corrected: bool) -> tuple[Int64Array, Int64Array, Int64Array]:
    """(completion µs of every request, completion µs and latency µs of the responded ones) for windowing."""
    done = _column(log, "start_us") + _column(log, "total_us")
    responded = _responded_mask(log)
    return done, done[responded], _latency_us(log, corrected=corrected)[responded]


def _binomial_log_cdf(trials: int, p_over: float, max_k: int) -> npt.NDArray[np.float64]:
    """log P(Binomial(trials, p_over) <= k) for k = 0..max_k, in log space (0.99^10^6 underflows)."""
    k = np.arange(max_k + 1, dtype=np.float64)
    step = np.log((trials - k[:-1]) / (k[:-1] + 1)) + math.log(p_over / (1 - p_over))
    log_pmf = trials * math.log1p(-p_over) + np.concatenate(([0.0], np.cumsum(step)))
    return np.logaddexp.accumulate(log_pmf)


def _validity(sorted_us: Int64Array, percent: Fraction) -> PercentileValidity:
    count = len(sorted_us)
    fraction = percent / 100
    alpha = 1 - VALIDITY_CONFIDENCE
    if fraction == 1:  # "p100 <= max" is a fact about the samples, not an estimate
        return PercentileValidity(percent, count, 1, int(sorted_us[-1]) if count else None)
    min_requests = math.ceil(math.log(alpha) / math.log(fraction))
    bound: int | None = None
    if count >= min_requests:
        # Largest number of slower requests `over` with P(Binomial(n, 1 - X) <= over) <= alpha. Beyond the
        # mean the CDF exceeds 1/2 > alpha, so the search stops there.
        p_over = float(1 - fraction)
        log_cdf = _binomial_log_cdf(count, p_over, min(count, math.ceil(count * p_over) + 1))
        allowed = np.nonzero(log_cdf <= math.log(alpha))[0]
        if len(allowed):
            over = int(allowed[-1])
            # The claim holds for the value with `over` samples above it: 1-based rank count - over.
            bound = int(sorted_us[count - over - 1])
    return PercentileValidity(percent, count, min_requests, bound)


def _latency_stats(samples_us: Int64Array, extra_percentiles: Iterable[Fraction] = ()) -> LatencyStats | None:
    if len(samples_us) == 0:
        return None
    ordered = np.sort(samples_us)
    count = len(ordered)
    sd_us = float(np.std(ordered, ddof=1)) if count > 1 else 0.0
    return LatencyStats(
        count=count,
        min_us=int(ordered[0]),
        max_us=int(ordered[-1]),
        mean_ms=float(np.mean(ordered)) / 1000,
        sd_ms=sd_us / 1000,
        percentiles_us={
            percentile_label(p): percentile_us(ordered, p) for p in (*REPORTED_PERCENTILES, *sorted(extra_percentiles))
        },
        validity=tuple(_validity(ordered, p) for p in REPORTED_PERCENTILES),
    )


def _is_open_loop(info: RunInfo) -> bool:
    return info.rate is not None or info.arrivals != "closed"


def _headline_corrected(info: RunInfo, corrected: bool | None) -> bool:
    return _is_open_loop(info) if corrected is None else corrected


def summarize(
    info: RunInfo, log: SampleLog, *, corrected: bool | None = None, extra_percentiles: Iterable[Fraction] = ()
) -> Summary:
    """Exact summary of a run; ``corrected`` picks the headline latency view (None: corrected iff open loop).

    ``extra_percentiles`` adds percentiles beyond REPORTED_PERCENTILES (a threshold on p(97.5)) to both views.
    """
    extra = [p for p in set(extra_percentiles) if p not in REPORTED_PERCENTILES]
    open_loop = _is_open_loop(info)
    headline_corrected = _headline_corrected(info, corrected)
    failure = _column(log, "failure")
    status = _column(log, "status")
    ok = _ok_mask(log)
    responded = _responded_mask(log)
    kinds, kind_counts = np.unique(failure[failure != Failure.NONE], return_counts=True)
    has_status = status > 0
    non_2xx_status = status[has_status & ((status < 200) | (status > 299))]
    codes, code_counts = np.unique(non_2xx_status, return_counts=True)
    duration = info.time_taken_s
    requests = len(log)
    ok_count = int(np.count_nonzero(ok))
    records = int(_column(log, "records")[ok].sum())
    corrected_view = ok_corrected_view = None
    if open_loop or headline_corrected:
        corrected_all = _latency_us(log, corrected=True)
        corrected_view = _latency_stats(corrected_all[responded], extra)
        ok_corrected_view = _latency_stats(corrected_all[ok], extra)
    uncorrected_all = _latency_us(log, corrected=False)
    return Summary(
        requests=requests,
        responded=int(np.count_nonzero(responded)),
        ok=ok_count,
        failed={Failure(int(k)).name.lower(): int(c) for k, c in zip(kinds, kind_counts, strict=True)},
        non_2xx={int(k): int(c) for k, c in zip(codes, code_counts, strict=True)},
        errors=requests - ok_count,
        duration_s=duration,
        requests_per_s=_rate(requests, duration),
        ok_per_s=_rate(ok_count, duration),
        records=records,
        records_per_s=_rate(records, duration),
        bytes_read=int(_column(log, "bytes_read").sum()),
        body_bytes=int(_column(log, "body_bytes").sum()),
        bytes_sent=int(_column(log, "bytes_sent").sum()),
        open_loop=open_loop,
        corrected=headline_corrected,
        uncorrected_latency=_latency_stats(uncorrected_all[responded], extra),
        corrected_latency=corrected_view,
        late=info.late,
        dropped=info.dropped,
        ok_uncorrected_latency=_latency_stats(uncorrected_all[ok], extra),
        ok_corrected_latency=ok_corrected_view,
    )


def _grouped_percentiles(
    groups: Int64Array, values: Int64Array, group_count: int, percents: Sequence[Fraction]
) -> list[list[int | None]]:
    """Exact nearest-rank percentiles of ``values`` per group id in [0, group_count); None for empty groups."""
    if len(values) == 0:  # nothing responded (every connection refused): no percentile in any second
        return [[None] * group_count for _ in percents]
    order = np.lexsort((values, groups))
    sorted_values = values[order]
    counts = np.bincount(groups, minlength=group_count)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    columns: list[list[int | None]] = []
    for percent in percents:
        # ceil(count * num / den) in integers: exact, like percentile_us.
        ranks = np.maximum(1, -((-counts * percent.numerator) // (percent.denominator * 100)))
        picked = sorted_values[np.minimum(starts + ranks - 1, max(len(sorted_values) - 1, 0))]
        columns.append([int(v) if c else None for v, c in zip(picked.tolist(), counts.tolist(), strict=True)])
    return columns


def timeline(info: RunInfo, log: SampleLog, *, corrected: bool | None = None) -> list[Second]:
    """Per-second requests, errors, throughput and p50/p95/p99 of the headline latency view.

    Requests are placed by completion time (start + total), as throughput is counted; every second from the
    first to the last completion is listed, empty ones included, so a stall shows as a gap.
    """
    if len(log) == 0:
        return []
    latency = _latency_us(log, corrected=_headline_corrected(info, corrected))
    done = _column(log, "start_us") + _column(log, "total_us")
    seconds = np.maximum(0, (done - info.started_us) // 1_000_000)
    count = int(seconds.max()) + 1
    ok = _ok_mask(log)
    responded = _responded_mask(log)
    requests = np.bincount(seconds, minlength=count)
    ok_counts = np.bincount(seconds[ok], minlength=count)
    records = np.bincount(seconds[ok], weights=_column(log, "records")[ok], minlength=count)
    bytes_read = np.bincount(seconds, weights=_column(log, "bytes_read"), minlength=count)
    p50, p95, p99 = _grouped_percentiles(
        seconds[responded], latency[responded], count, (Fraction(50), Fraction(95), Fraction(99))
    )
    run_s = max(info.time_taken_s, 0.0)
    rows = []
    for index in range(count):
        width = min(1.0, run_s - index) if run_s > index else 1.0
        rows.append(
            Second(
                second=index,
                requests=int(requests[index]),
                ok=int(ok_counts[index]),
                errors=int(requests[index] - ok_counts[index]),
                records=round(float(records[index])),
                bytes_read=round(float(bytes_read[index])),
                requests_per_s=_rate(float(requests[index]), width),
                p50_us=p50[index],
                p95_us=p95[index],
                p99_us=p99[index],
            )
        )
    return rows
