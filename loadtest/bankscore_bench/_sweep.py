"""Find the highest load a service takes within its SLO: a concurrency or arrival-rate sweep.

``--sweep`` SPEC forms::

    concurrency=1,2,4,8,16        the listed levels, ascending
    rate=100:2000:100             start:stop:step, stop included
    rate=binary:100:5000[:res]    bisect between 100 and 5000 until the bracket is narrower than res
                                  (default: 1 user for concurrency, 1/32 of the range for rate)

Linear sweeps run levels in order and stop at the first level that misses the SLO (the knee has been passed);
binary sweeps check both ends, then bisect, assuming latency grows with load (MLPerf FindPeakPerformance,
perf_analyzer ``--binary-search``).

Stability (perf_analyzer ``-s 10``): a level's samples are split into ``windows`` equal time windows by
completion time; the level is stable when, in the last three windows, throughput and headline p99 each stay
within ``tolerance`` (10 %) of their mean. An unstable level is run again, at most ``max_trials`` times in all;
the last trial is the one reported (marked unstable if it never settled).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Final, Literal

import numpy as np

from bankscore_bench._samples import RunInfo, SampleLog
from bankscore_bench._stats import Int64Array, Summary, completion_and_latency_us, percentile_us, summarize
from bankscore_bench._thresholds import Threshold, ThresholdResult, evaluate, required_percentiles

__all__ = [
    "MAX_LEVELS",
    "SweepError",
    "SweepPoint",
    "SweepResult",
    "SweepSpec",
    "is_stable",
    "parse_sweep",
    "run_sweep",
]

Level = int | float
RunLevel = Callable[[Level], tuple[RunInfo, SampleLog]]
MAX_LEVELS: Final = 200  # a sweep is bounded in count: a typo like rate=1:100000:1 is refused, not run
_STABILITY_WINDOWS: Final = 3  # perf_analyzer compares the last three measurements
P99_WINDOW_MIN: Final = 1_000  # responses per window before its p99 (10 samples above it) is compared


class SweepError(ValueError):
    """A ``--sweep`` SPEC that cannot be run; the message names the SPEC and the problem."""


@dataclasses.dataclass(frozen=True, slots=True)
class SweepSpec:
    dimension: Literal["concurrency", "rate"]
    mode: Literal["linear", "binary"]
    levels: tuple[Level, ...]  # linear: every level; binary: (low, high)
    resolution: float = 1.0  # binary: stop when high - low <= resolution

    @property
    def text(self) -> str:
        if self.mode == "binary":
            return f"{self.dimension}=binary:{_fmt(self.levels[0])}:{_fmt(self.levels[1])}:{_fmt(self.resolution)}"
        return f"{self.dimension}=" + ",".join(_fmt(level) for level in self.levels)


@dataclasses.dataclass(frozen=True, slots=True)
class SweepPoint:
    """One level of the curve, as its last trial measured it."""

    level: Level
    trials: int
    stable: bool
    slo_ok: bool
    requests: int
    requests_per_s: float
    ok_per_s: float
    p50_us: int | None
    p99_us: int | None
    error_rate: float
    summary: Summary
    thresholds: tuple[ThresholdResult, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class SweepResult:
    spec: SweepSpec
    slo: tuple[Threshold, ...]
    points: tuple[SweepPoint, ...]  # in the order run

    @property
    def curve(self) -> list[SweepPoint]:
        """The points ordered by level (a binary search runs them out of order)."""
        return sorted(self.points, key=lambda point: point.level)

    @property
    def best(self) -> SweepPoint | None:
        """The highest-throughput level that met the SLO; None when none did."""
        passing = [point for point in self.points if point.slo_ok]
        return max(passing, key=lambda point: point.requests_per_s) if passing else None


def _fmt(level: float) -> str:
    return str(int(level)) if float(level).is_integer() else f"{level:g}"


def _number(spec: str, text: str, dimension: str) -> Level:
    try:
        value = float(text)
    except ValueError:
        raise SweepError(f"--sweep {spec!r}: {text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise SweepError(f"--sweep {spec!r}: {dimension} must be above 0, got {text!r}")
    if dimension == "concurrency":
        if not value.is_integer():
            raise SweepError(f"--sweep {spec!r}: concurrency must be a whole number of users, got {text!r}")
        return int(value)
    return value


def parse_sweep(spec: str) -> SweepSpec:
    """Parse ``--sweep`` SPEC (see the module docstring); SweepError names the SPEC and what is wrong."""
    match = re.fullmatch(r"\s*(?P<dimension>[a-z]+)\s*=\s*(?P<body>.+?)\s*", spec)
    if match is None or match["dimension"] not in {"concurrency", "rate"}:
        raise SweepError(
            f"--sweep {spec!r}: expected concurrency=LEVELS or rate=LEVELS "
            "(e.g. concurrency=1,2,4,8 or rate=100:2000:100 or rate=binary:100:5000)"
        )
    dimension: Literal["concurrency", "rate"] = "concurrency" if match["dimension"] == "concurrency" else "rate"
    body = match["body"]
    if body.startswith("binary:"):
        parts = body.split(":")[1:]
        if len(parts) not in {2, 3}:
            raise SweepError(f"--sweep {spec!r}: binary takes LOW:HIGH[:RESOLUTION]")
        low, high = (_number(spec, part, dimension) for part in parts[:2])
        if low >= high:
            raise SweepError(f"--sweep {spec!r}: LOW {_fmt(low)} must be below HIGH {_fmt(high)}")
        default = 1.0 if dimension == "concurrency" else (high - low) / 32
        resolution = float(_number(spec, parts[2], "rate")) if len(parts) == 3 else default
        return SweepSpec(dimension, "binary", (low, high), resolution)
    if ":" in body:
        parts = body.split(":")
        if len(parts) != 3:
            raise SweepError(f"--sweep {spec!r}: a range is START:STOP:STEP")
        start, stop, step = (_number(spec, part, dimension) for part in parts)
        if start > stop:
            raise SweepError(f"--sweep {spec!r}: START {_fmt(start)} is above STOP {_fmt(stop)}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_LEVELS:
            raise SweepError(f"--sweep {spec!r}: {count} levels; at most {MAX_LEVELS}")
        levels: list[Level] = [start + index * step for index in range(count)]
        if dimension == "rate":
            levels = [round(float(level), 9) for level in levels]  # 0.1 steps without float noise
    else:
        levels = [_number(spec, part.strip(), dimension) for part in body.split(",")]
        if len(levels) > MAX_LEVELS:
            raise SweepError(f"--sweep {spec!r}: {len(levels)} levels; at most {MAX_LEVELS}")
        if len(set(levels)) != len(levels):
            raise SweepError(f"--sweep {spec!r}: a level is listed twice")
    return SweepSpec(dimension, "linear", tuple(sorted(levels)))


def _window_values(
    info: RunInfo, log: SampleLog, windows: int, corrected: bool
) -> list[tuple[float, int | None, int | None, int]]:
    """(throughput, p99 µs, p50 µs, responses) per equal time window of the run, by completion time."""
    done, responded_done, latency = completion_and_latency_us(log, corrected=corrected)
    span = max(info.ended_us - info.started_us, 1)
    window_s = span / windows / 1e6

    def window_of(completions: Int64Array) -> Int64Array:
        placed: Int64Array = np.clip((completions - info.started_us) * windows // span, 0, windows - 1)
        return placed

    requests = np.bincount(window_of(done), minlength=windows)
    latency_window = window_of(responded_done)
    values: list[tuple[float, int | None, int | None, int]] = []
    for window in range(windows):
        mine = np.sort(latency[latency_window == window])
        p99 = percentile_us(mine, Fraction(99)) if len(mine) else None
        p50 = percentile_us(mine, Fraction(50)) if len(mine) else None
        values.append((int(requests[window]) / window_s, p99, p50, len(mine)))
    return values


def _within(values: Sequence[float], tolerance: float) -> bool:
    mean = sum(values) / len(values)
    return mean > 0 and all(abs(value - mean) <= tolerance * mean for value in values)


def is_stable(info: RunInfo, log: SampleLog, *, windows: int = 3, tolerance: float = 0.10, corrected: bool) -> bool:
    """Throughput and p99 of the last three windows each within ``tolerance`` of their mean.

    A window's p99 rests on its slowest 1%: with fewer than ``P99_WINDOW_MIN`` responses per window it is
    little more than that window's maximum and never steady, so short levels are judged on the median instead
    (throughput is judged either way).
    """
    last = _window_values(info, log, windows, corrected)[-_STABILITY_WINDOWS:]
    p99s = [p99 for _, p99, _, _ in last]
    if any(p99 is None for p99 in p99s):
        return False  # a window with no response: certainly not steady
    enough = min(count for _, _, _, count in last) >= P99_WINDOW_MIN
    latencies = [float(p99 or 0) for p99 in p99s] if enough else [float(p50 or 0) for _, _, p50, _ in last]
    return _within([rate for rate, _, _, _ in last], tolerance) and _within(latencies, tolerance)


class _Runner:
    def __init__(
        self,
        run_level: RunLevel,
        slo: Sequence[Threshold],
        windows: int,
        tolerance: float,
        max_trials: int,
        on_point: Callable[[SweepPoint], None] | None,
    ) -> None:
        self.run_level, self.slo, self.windows, self.tolerance = run_level, tuple(slo), windows, tolerance
        self.max_trials, self.on_point = max_trials, on_point
        self.points: list[SweepPoint] = []

    def measure(self, level: Level) -> SweepPoint:
        for trial in range(1, self.max_trials + 1):
            info, log = self.run_level(level)
            summary = summarize(info, log, extra_percentiles=required_percentiles(self.slo))
            stable = is_stable(info, log, windows=self.windows, tolerance=self.tolerance, corrected=summary.corrected)
            if stable or trial == self.max_trials:
                break
        results = tuple(evaluate(self.slo, summary))
        latency = summary.latency
        point = SweepPoint(
            level=level,
            trials=trial,
            stable=stable,
            slo_ok=all(result.passed for result in results),
            requests=summary.requests,
            requests_per_s=summary.requests_per_s,
            ok_per_s=summary.ok_per_s,
            p50_us=latency.percentiles_us["p50"] if latency else None,
            p99_us=latency.percentiles_us["p99"] if latency else None,
            error_rate=summary.error_rate,
            summary=summary,
            thresholds=results,
        )
        self.points.append(point)
        if self.on_point is not None:
            self.on_point(point)
        return point


def _bisect(runner: _Runner, spec: SweepSpec) -> None:
    low, high = spec.levels
    if not runner.measure(low).slo_ok or runner.measure(high).slo_ok:
        return  # nothing meets the SLO, or even the top does: no knee inside the range
    while high - low > spec.resolution:
        middle: Level = (low + high) // 2 if spec.dimension == "concurrency" else (low + high) / 2
        if middle in {low, high}:
            break
        if runner.measure(middle).slo_ok:
            low = middle
        else:
            high = middle


def run_sweep(
    spec: SweepSpec,
    run_level: RunLevel,
    slo: Sequence[Threshold] = (),
    *,
    windows: int = 3,
    tolerance: float = 0.10,
    max_trials: int = 3,
    stop_on_fail: bool = True,
    on_point: Callable[[SweepPoint], None] | None = None,
) -> SweepResult:
    """Run the sweep; ``run_level(level)`` runs one bounded load test at that level and returns its samples.

    ``on_point`` is called after each level (progress). A binary sweep needs an SLO to search against.
    """
    if windows < _STABILITY_WINDOWS:
        raise SweepError(f"stability needs at least {_STABILITY_WINDOWS} windows, got {windows}")
    if max_trials < 1:
        raise SweepError(f"max_trials must be at least 1, got {max_trials}")
    if spec.mode == "binary" and not slo:
        raise SweepError(f"--sweep {spec.text!r}: a binary search needs an SLO (--slo 'p99<50ms', for example)")
    runner = _Runner(run_level, slo, windows, tolerance, max_trials, on_point)
    if spec.mode == "binary":
        _bisect(runner, spec)
    else:
        for level in spec.levels:
            if not runner.measure(level).slo_ok and stop_on_fail:
                break
    return SweepResult(spec, tuple(slo), tuple(runner.points))
