"""The sweep's search logic, against a synthetic server model whose latency rises with load (a unit test).

The real end-to-end sweep against the inference server is the lead's (it needs the engine wired to the CLI).
"""

from __future__ import annotations

import numpy as np
import pytest

from bankscore_bench._sweep import MAX_LEVELS, SweepError, is_stable, parse_sweep, run_sweep
from bankscore_bench._thresholds import parse_thresholds

RUN_S = 3.0


class ServerModel:
    """Queueing-like service: latency = base / (1 - load / capacity); records every level it was asked for."""

    def __init__(self, make_run, *, capacity: float, base_us: float = 2_000.0) -> None:
        self.make_run, self.capacity, self.base_us = make_run, capacity, base_us
        self.asked: list[float] = []
        self.rng = np.random.default_rng(11)

    def latency_us(self, load: float) -> float:
        return self.base_us / max(1e-3, 1 - load / self.capacity)

    def rate(self, level: float):
        """Open loop at ``level`` requests/s for RUN_S seconds."""
        self.asked.append(level)
        count = int(level * RUN_S)
        intended = (np.arange(count) * 1e6 / level).astype(np.int64)
        latency = (self.latency_us(level) * self.rng.uniform(0.95, 1.05, count)).astype(np.int64)
        return self.make_run(latency.tolist(), start_us=intended.tolist(), rate=float(level))

    def concurrency(self, level: float):
        """Closed loop: ``level`` users back to back; latency base * (1 + (users / 8)^2), so throughput
        (users / latency) peaks at 8 users and falls beyond (contention)."""
        self.asked.append(level)
        users = int(level)
        latency = self.base_us * (1 + (users / 8) ** 2)
        per_user = int(RUN_S * 1e6 / latency)
        starts = [int(i * latency) for _ in range(users) for i in range(per_user)]
        totals = (latency * self.rng.uniform(0.95, 1.05, len(starts))).astype(np.int64).tolist()
        return self.make_run(totals, start_us=starts, concurrency=users)


@pytest.mark.parametrize(
    ("spec", "levels"),
    [
        ("concurrency=1,2,4,8,16", (1, 2, 4, 8, 16)),
        ("concurrency=16,4, 1", (1, 4, 16)),
        ("concurrency=1:9:4", (1, 5, 9)),
        ("rate=100:500:100", (100.0, 200.0, 300.0, 400.0, 500.0)),
        ("rate=0.5:1.5:0.5", (0.5, 1.0, 1.5)),
        ("rate=100:550:100", (100.0, 200.0, 300.0, 400.0, 500.0)),
    ],
)
def test_linear_specs_parse(spec: str, levels: tuple[float, ...]) -> None:
    parsed = parse_sweep(spec)
    assert parsed.mode == "linear"
    assert parsed.levels == levels
    assert parsed.dimension == spec.split("=", maxsplit=1)[0]


def test_binary_specs_parse_with_a_default_or_given_resolution() -> None:
    rate = parse_sweep("rate=binary:100:5000")
    assert (rate.mode, rate.levels, rate.resolution) == ("binary", (100.0, 5000.0), pytest.approx(4900 / 32))
    concurrency = parse_sweep("concurrency=binary:1:64")
    assert (concurrency.levels, concurrency.resolution) == ((1, 64), 1.0)
    assert parse_sweep("rate=binary:100:5000:10").resolution == 10.0


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("users=1,2", "expected concurrency=LEVELS or rate=LEVELS"),
        ("concurrency=1.5,2", "whole number of users, got '1.5'"),
        ("concurrency=0,2", "must be above 0, got '0'"),
        ("rate=abc", "'abc' is not a number"),
        ("rate=100:50:10", "START 100 is above STOP 50"),
        ("rate=1:2", "START:STOP:STEP"),
        ("rate=binary:500:100", "LOW 500 must be below HIGH 100"),
        ("rate=binary:100", "binary takes LOW:HIGH[:RESOLUTION]"),
        ("rate=1:100000:1", f"at most {MAX_LEVELS}"),
        ("concurrency=2,2", "listed twice"),
        ("rate=nan", "must be above 0"),
    ],
)
def test_bad_specs_are_refused_with_the_spec_named(spec: str, fragment: str) -> None:
    with pytest.raises(SweepError) as caught:
        parse_sweep(spec)
    assert fragment in str(caught.value)
    assert repr(spec) in str(caught.value)


def test_linear_rate_sweep_stops_at_the_first_level_over_the_slo(stats_synthetic_run) -> None:
    model = ServerModel(stats_synthetic_run, capacity=1000)  # p99 ~ 2.1 ms / (1 - r/1000) < 5 ms: r < 580/s
    seen = []
    result = run_sweep(parse_sweep("rate=100:900:100"), model.rate, parse_thresholds("p99<5ms"), on_point=seen.append)
    assert model.asked == [100, 200, 300, 400, 500, 600]  # 600 fails (about 5.2 ms): stop there
    assert [p.slo_ok for p in result.points] == [True] * 5 + [False]
    assert result.best is not None and result.best.level == 500
    assert result.best.requests_per_s == pytest.approx(500, rel=0.01)
    assert all(p.stable and p.trials == 1 for p in result.points)
    assert seen == list(result.points)  # progress callback per level


def test_linear_sweep_can_run_every_level(stats_synthetic_run) -> None:
    model = ServerModel(stats_synthetic_run, capacity=1000)
    result = run_sweep(parse_sweep("rate=200:800:300"), model.rate, parse_thresholds("p99<3ms"), stop_on_fail=False)
    assert [p.level for p in result.curve] == [200, 500, 800]
    assert [p.slo_ok for p in result.curve] == [True, False, False]


def test_concurrency_sweep_finds_the_knee(stats_synthetic_run) -> None:
    model = ServerModel(stats_synthetic_run, capacity=1)  # capacity unused in closed loop
    result = run_sweep(parse_sweep("concurrency=1,2,4,8,16,32,64"), model.concurrency, parse_thresholds("p99<12ms"))
    # 16 users: 10 ms, within the SLO but slower than 8 users (1600 vs 2000 req/s); 32 users: 34 ms, stop.
    assert model.asked == [1, 2, 4, 8, 16, 32]
    assert [p.slo_ok for p in result.points] == [True] * 5 + [False]
    assert result.best is not None and result.best.level == 8  # the highest throughput, not the highest level
    assert result.best.requests_per_s == pytest.approx(2000, rel=0.03)


def test_binary_rate_search_converges_on_the_highest_passing_rate(stats_synthetic_run) -> None:
    model = ServerModel(stats_synthetic_run, capacity=1000)
    result = run_sweep(parse_sweep("rate=binary:100:1000:10"), model.rate, parse_thresholds("p99<5ms"))
    # p99 ~ 1.05 * 2 ms / (1 - r/1000) < 5 ms  <=>  r < ~580/s
    assert result.best is not None
    assert 560 <= result.best.level <= 590
    assert model.asked[:2] == [100, 1000]  # both ends first
    assert len(set(model.asked)) <= 2 + 7  # log2(900 / 10) bisections at most
    assert len(model.asked) <= 3 * (2 + 7)  # and each level at most max_trials times
    failing = [p.level for p in result.points if not p.slo_ok]
    assert min(failing) - result.best.level <= 10 + 1e-9  # bracketed to the resolution


def test_binary_search_reports_when_no_level_or_every_level_passes(stats_synthetic_run) -> None:
    model = ServerModel(stats_synthetic_run, capacity=1000)
    none = run_sweep(parse_sweep("rate=binary:100:900"), model.rate, parse_thresholds("p99<1ms"))
    assert none.best is None and [p.level for p in none.points] == [100]
    every = run_sweep(parse_sweep("rate=binary:100:200"), model.rate, parse_thresholds("p99<50ms"))
    assert every.best is not None and every.best.level == 200


def test_binary_search_needs_an_slo() -> None:
    with pytest.raises(SweepError, match="needs an SLO"):
        run_sweep(parse_sweep("rate=binary:1:10"), lambda level: pytest.fail("must not run"), ())


def test_an_unstable_level_is_repeated_until_it_settles(stats_synthetic_run) -> None:
    calls: list[float] = []

    def warming_up(level: float):
        calls.append(level)
        count = 300
        # First trial: latency climbs through the run (a cold cache); later trials: steady.
        ramp = np.linspace(1_000, 8_000, count) if calls.count(level) == 1 else np.full(count, 1_000.0)
        starts = (np.arange(count) * 10_000).tolist()
        return stats_synthetic_run(ramp.astype(np.int64).tolist(), start_us=starts)

    result = run_sweep(parse_sweep("concurrency=1,2"), warming_up, parse_thresholds("p99<50ms"))
    assert calls == [1, 1, 2, 2]
    assert [(p.trials, p.stable) for p in result.points] == [(2, True), (2, True)]


def test_a_level_that_never_settles_is_run_a_bounded_number_of_times(stats_synthetic_run) -> None:
    calls: list[float] = []

    def drifting(level: float):
        calls.append(level)
        count = 300
        return stats_synthetic_run(
            np.linspace(1_000, 8_000, count).astype(np.int64).tolist(), start_us=(np.arange(count) * 10_000).tolist()
        )

    result = run_sweep(parse_sweep("concurrency=4"), drifting, parse_thresholds("p99<50ms"), max_trials=4)
    assert calls == [4, 4, 4, 4]
    (point,) = result.points
    assert (point.trials, point.stable, point.slo_ok) == (4, False, True)


def test_stability_compares_throughput_and_p99_of_the_windows(stats_synthetic_run) -> None:
    steady = stats_synthetic_run([1_000] * 300, start_us=list(range(0, 3_000_000, 10_000)))
    assert is_stable(*steady, corrected=False)
    # Same latency, but the last third of the run sends half as often: throughput is not stable.
    starts = list(range(0, 2_000_000, 10_000)) + list(range(2_000_000, 3_000_000, 20_000))
    thinning = stats_synthetic_run([1_000] * len(starts), start_us=starts)
    assert not is_stable(*thinning, corrected=False)
    # A 9 % p99 difference is within the 10 % tolerance; 30 % is not.
    for factor, expected in ((1.09, True), (1.3, False)):
        totals = [1_000] * 200 + [int(1_000 * factor)] * 100
        run = stats_synthetic_run(totals, start_us=list(range(0, 3_000_000, 10_000)))
        assert is_stable(*run, corrected=False) is expected


def test_short_windows_are_judged_on_the_median_long_ones_on_p99(stats_synthetic_run) -> None:
    from bankscore_bench._sweep import P99_WINDOW_MIN

    def run_with_one_slow_request_per_window(per_window: int):
        totals = []
        for window in range(3):
            slow = [5_000 * (window + 1)]  # the window's p99 is its one outlier when the window is short
            totals += [1_000] * (per_window - 1) + slow
        step = 3_000_000 // len(totals)
        return stats_synthetic_run(totals, start_us=[i * step for i in range(len(totals))])

    # 100 per window: p99 is the outlier (5, 10, 15 ms: far apart) but the median is steady.
    assert is_stable(*run_with_one_slow_request_per_window(100), corrected=False)
    # Enough responses per window: the p99 is compared (the outliers are now below it, so it is steady too) ...
    assert is_stable(*run_with_one_slow_request_per_window(P99_WINDOW_MIN + 100), corrected=False)
    # ... and a p99 that really moves between long windows is caught.
    totals = []
    for window in range(3):
        totals += [1_000] * (P99_WINDOW_MIN + 50) + [2_000 * (window + 1)] * 50
    step = 3_000_000 // len(totals)
    moving = stats_synthetic_run(totals, start_us=[i * step for i in range(len(totals))])
    assert not is_stable(*moving, corrected=False)
