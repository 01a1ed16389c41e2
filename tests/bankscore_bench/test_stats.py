"""Exact statistics: percentiles equal numpy's inverted_cdf, views, counts, validity and the timeline."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from bankscore_bench._samples import Failure, SampleLog
from bankscore_bench._stats import (
    REPORTED_PERCENTILES,
    Summary,
    _validity,
    percentile_label,
    percentile_us,
    summarize,
    timeline,
)


def test_percentiles_equal_numpy_inverted_cdf_on_a_million_samples(stats_synthetic_run) -> None:
    rng = np.random.default_rng(2026)
    # Heavy-tailed like real latencies, with many ties (whole µs), so rank boundaries matter.
    latencies = rng.lognormal(mean=8.0, sigma=1.2, size=1_000_000).astype(np.int64) + 1
    info, log = stats_synthetic_run([0], rate=None)
    log = SampleLog()
    log.total_us.extend(latencies.tolist())
    for name in ("intended_us", "start_us", "connect_us", "wait_us", "bytes_read", "body_bytes", "bytes_sent"):
        getattr(log, name).extend([0] * len(latencies))
    log.status.extend([200] * len(latencies))
    log.failure.extend([0] * len(latencies))
    log.keepalive.extend([0] * len(latencies))
    log.records.extend([1] * len(latencies))
    latency = summarize(info, log).latency
    assert latency is not None
    expected = np.quantile(latencies, [float(p / 100) for p in REPORTED_PERCENTILES], method="inverted_cdf")
    assert list(latency.percentiles_us.values()) == [int(v) for v in expected]
    assert list(latency.percentiles_us) == ["p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p99.9", "p99.99"]
    assert latency.min_us == latencies.min()
    assert latency.max_us == latencies.max()
    assert latency.mean_ms == pytest.approx(latencies.mean() / 1000)
    assert latency.sd_ms == pytest.approx(latencies.std(ddof=1) / 1000)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 99, 100, 101, 999, 1000, 1001, 10_007])
def test_percentiles_are_monotone_never_above_max_and_match_the_rank_definition(count: int) -> None:
    rng = np.random.default_rng(count)
    ordered = np.sort(rng.integers(1, 5_000, size=count))
    values = [percentile_us(ordered, p) for p in REPORTED_PERCENTILES]
    assert values == sorted(values)
    assert values[-1] <= ordered[-1]
    for percent, value in zip(REPORTED_PERCENTILES, values, strict=True):
        # Nearest rank: at least X % of the samples are <= v, and fewer than X % are < v.
        assert 100 * np.count_nonzero(ordered <= value) >= percent * count
        assert 100 * np.count_nonzero(ordered < value) < percent * count
        assert value == int(np.quantile(ordered, float(percent / 100), method="inverted_cdf"))


def test_percentile_labels_are_stable_keys() -> None:
    assert [percentile_label(p) for p in (Fraction(50), Fraction("99.9"), Fraction("99.99"), Fraction("97.5"))] == [
        "p50",
        "p99.9",
        "p99.99",
        "p97.5",
    ]


def test_counts_errors_and_rates(stats_synthetic_run) -> None:
    failures = [Failure.NONE] * 6 + [Failure.CONNECT, Failure.LENGTH, Failure.BAD_BODY, Failure.RECEIVE]
    statuses = [200, 200, 200, 404, 503, 503, 0, 200, 200, 0]
    info, log = stats_synthetic_run([1_000_000] * 10, status=statuses, failure=failures, records=5)
    summary = summarize(info, log)
    assert summary.requests == 10
    assert summary.ok == 3
    assert summary.errors == 7
    assert summary.error_rate == pytest.approx(0.7)
    assert summary.failed == {"connect": 1, "receive": 1, "length": 1, "bad_body": 1}
    assert summary.non_2xx == {404: 1, 503: 2}
    # Responses (NONE, LENGTH, BAD_BODY) are timed whatever their status, as ab does; 8 of 10 here.
    assert summary.responded == 8
    assert summary.uncorrected_latency is not None and summary.uncorrected_latency.count == 8
    assert summary.duration_s == pytest.approx(10.0)
    assert summary.requests_per_s == pytest.approx(1.0)
    assert summary.ok_per_s == pytest.approx(0.3)
    assert summary.records == 15  # only ok requests score records
    assert summary.records_per_s == pytest.approx(1.5)
    assert (summary.bytes_read, summary.body_bytes, summary.bytes_sent) == (2000, 320, 1500)
    assert summary.corrected_latency is None  # closed loop: one view
    assert summary.latency is summary.uncorrected_latency


def test_an_empty_run_has_no_latency_and_no_rates(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([])
    summary = summarize(info, log)
    assert (summary.requests, summary.requests_per_s, summary.error_rate) == (0, 0.0, 0.0)
    assert summary.latency is None
    assert timeline(info, log) == []


def _stalled_open_loop_run(stats_synthetic_run):
    """1000 req/s for 3 s; the generator stalls for 1 s in the middle and then sends the backlog at once."""
    intended = [i * 1_000 for i in range(3_000)]
    stall_start, stall_end = 1_000_000, 2_000_000
    start = [stall_end if stall_start <= t < stall_end else t for t in intended]
    return stats_synthetic_run([500] * 3_000, start_us=start, intended_us=intended, rate=1000.0)


def test_open_loop_corrected_view_sees_a_stall_the_uncorrected_view_hides(stats_synthetic_run) -> None:
    info, log = _stalled_open_loop_run(stats_synthetic_run)
    summary = summarize(info, log)
    assert summary.open_loop and summary.corrected
    uncorrected, corrected = summary.uncorrected_latency, summary.corrected_latency
    assert uncorrected is not None and corrected is not None
    assert uncorrected.percentiles_us["p99"] == 500  # every request took 0.5 ms once sent
    # A third of the requests waited up to 1 s for their send: the corrected p50 is small, p99 ~ 1 s.
    assert corrected.percentiles_us["p50"] == 500
    assert corrected.percentiles_us["p99"] >= 900_000
    assert corrected.max_us == 1_000_500
    assert summary.latency is corrected
    forced = summarize(info, log, corrected=False)
    assert forced.latency is forced.uncorrected_latency and forced.corrected_latency is not None


def test_late_and_dropped_come_from_the_run_info(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([500] * 10, rate=100.0, late=3, dropped=2)
    summary = summarize(info, log)
    assert (summary.late, summary.dropped) == (3, 2)


def test_extra_percentiles_are_added_to_both_views(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run(list(range(1, 1001)), rate=10.0)
    summary = summarize(info, log, extra_percentiles=[Fraction("97.5"), Fraction(99)])
    assert summary.uncorrected_latency is not None and summary.corrected_latency is not None
    assert summary.uncorrected_latency.percentiles_us["p97.5"] == 975
    assert list(summary.corrected_latency.percentiles_us)[-1] == "p97.5"


def _binomial_cdf(count: int, p_over: Fraction, over: int) -> Fraction:
    return sum(
        (math.comb(count, k) * p_over**k * (1 - p_over) ** (count - k) for k in range(over + 1)), start=Fraction(0)
    )


@pytest.mark.parametrize(("count", "percent"), [(458, 99), (459, 99), (1_200, 99), (3_000, 95), (800, 50)])
def test_validity_is_the_binomial_early_stopping_bound(count: int, percent: int) -> None:
    ordered = np.arange(1, count + 1, dtype=np.int64)  # distinct values: rank == value
    result = _validity(ordered, Fraction(percent))
    assert result.min_requests == math.ceil(math.log(0.01) / math.log(percent / 100))
    if percent == 99:
        assert result.min_requests == 459  # MLPerf: p99 needs >= 459 queries
    if result.bound_us is None:
        assert count < result.min_requests
        return
    over = count - result.bound_us  # samples above the bound
    p_over = 1 - Fraction(percent, 100)
    assert _binomial_cdf(count, p_over, over) <= Fraction(1, 100)  # the claim is supported ...
    assert _binomial_cdf(count, p_over, over + 1) > Fraction(1, 100)  # ... and the bound is the tightest
    assert result.bound_us >= percentile_us(ordered, Fraction(percent))


def test_summary_reports_validity_for_each_percentile(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([100] * 500)
    latency = summarize(info, log).latency
    assert latency is not None
    by_percent = {v.percent: v for v in latency.validity}
    assert by_percent[Fraction(99)].valid
    assert not by_percent[Fraction("99.9")].valid  # needs 4603 requests


def test_timeline_buckets_by_completion_second(stats_synthetic_run) -> None:
    # Second 0: 4 requests of 100 ms; second 1: nothing; second 2: 2 requests, one a 503.
    starts = [0, 200_000, 400_000, 600_000, 2_000_000, 2_300_000]
    totals = [100_000, 100_000, 100_000, 100_000, 300_000, 500_000]
    info, log = stats_synthetic_run(totals, start_us=starts, status=[200, 200, 200, 200, 200, 503])
    seconds = timeline(info, log)
    assert [s.second for s in seconds] == [0, 1, 2]
    assert [s.requests for s in seconds] == [4, 0, 2]
    assert [s.errors for s in seconds] == [0, 0, 1]
    assert [s.p50_us for s in seconds] == [100_000, None, 300_000]
    assert [s.p99_us for s in seconds] == [100_000, None, 500_000]
    assert seconds[0].requests_per_s == pytest.approx(4.0)
    assert seconds[2].requests_per_s == pytest.approx(2 / 0.8)  # the run ends at 2.8 s: a partial second
    assert sum(s.requests for s in seconds) == summarize(info, log).requests


def test_timeline_percentiles_match_the_exact_rule_per_second(stats_synthetic_run) -> None:
    rng = np.random.default_rng(5)
    starts = np.sort(rng.integers(0, 5_000_000, size=5_000)).tolist()
    totals = rng.integers(1, 20_000, size=5_000).tolist()
    info, log = stats_synthetic_run(totals, start_us=starts)
    done = np.array(starts) + np.array(totals)
    for second in timeline(info, log):
        in_second = (done - starts[0]) // 1_000_000 == second.second  # the run starts at the first start
        mine = np.sort(np.array(totals)[in_second])
        assert second.p95_us == percentile_us(mine, Fraction(95))
        assert second.p50_us <= second.p95_us <= second.p99_us <= mine[-1]


def test_summary_is_frozen(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([1, 2, 3])
    summary: Summary = summarize(info, log)
    with pytest.raises(AttributeError):
        summary.requests = 5  # type: ignore[misc]


def test_timeline_of_a_run_where_nothing_responded(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([1_000, 2_000, 1_500], status=0, failure=Failure.CONNECT)
    seconds = timeline(info, log)
    assert len(seconds) == 1
    assert seconds[0].requests == 3
    assert (seconds[0].p50_us, seconds[0].p95_us, seconds[0].p99_us) == (None, None, None)
