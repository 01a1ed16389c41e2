"""Pass/fail gates on a run, in k6's threshold language: ``--threshold 'p(95)<200,errors<=1%'``.

Grammar (one expression; a list is comma-separated)::

    expression := metric operator number [unit]
    operator   := <  <=  >  >=  ==  !=
    metric     := p(X) | pX            latency percentile X in (0, 100], e.g. p(95), p99, p99.9
                | mean | avg | med | min | max     latency
                | errors                 with "%": share of requests that are not ok; without: a count
                | rate | http_req_failed  share of requests that are not ok, as a fraction or a percentage
                                         (k6's http_req_failed<0.01)
                | ok                     successful requests (a count)
                | rps                    requests per second over the run
                | records                records scored per second (ok requests)

Latency values are milliseconds unless a unit says otherwise (``us``, ``µs``, ``ms``, ``s``), as in k6.
Latency metrics read the summary's headline view (corrected from the intended send time for open loop) of
the *successful* requests only (ok: a 2xx with a good body), with the same exact nearest-rank percentiles as
the summary: a fast 401 says nothing about how fast the model scores. A run with no successful request fails
every latency threshold (there is no value to compare).

A failed run cannot pass: ``with_run_checks`` adds to any list of thresholds ``ok>0`` (some request
succeeded) and, unless an error threshold is stated, ``DEFAULT_ERROR_LIMIT`` (``http_req_failed<0.01``);
``failure_reasons`` says in words why a run failed.

``THRESHOLDS_FAILED_EXIT_CODE`` is 99, k6's ``ThresholdsHaveFailed``, so CI scripts written for k6 keep
working.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Final

from bankscore_bench._stats import Summary, percentile_label

__all__ = [
    "DEFAULT_ERROR_LIMIT",
    "THRESHOLDS_FAILED_EXIT_CODE",
    "Threshold",
    "ThresholdError",
    "ThresholdResult",
    "all_passed",
    "evaluate",
    "failure_reasons",
    "parse_thresholds",
    "required_percentiles",
    "with_run_checks",
]

THRESHOLDS_FAILED_EXIT_CODE: Final = 99
# Applied whenever thresholds are given and none of them limits errors: a latency goal met by failures is no goal.
DEFAULT_ERROR_LIMIT: Final = "http_req_failed<0.01"

_OPERATORS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_LATENCY_UNITS_MS: Final = {"": 1.0, "ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_EXPRESSION = re.compile(
    r"""^\s*(?P<metric>p\(\s*[0-9.]+\s*\)|p[0-9.]+|[a-z_]+)\s*
        (?P<op><=|>=|==|!=|<|>)\s*
        (?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>%|ms|s|us|µs)?\s*$""",
    re.VERBOSE,
)
_PERCENTILE = re.compile(r"^p\(?\s*(?P<value>[0-9]+(?:\.[0-9]+)?)\s*\)?$")
_LATENCY_METRICS: Final = {"mean": "mean", "avg": "mean", "med": "p50", "median": "p50", "min": "min", "max": "max"}
_SHARE_METRICS: Final = {"errors", "rate", "http_req_failed"}
_COUNT_METRICS: Final = {"rps", "records"}
_ERROR_METRICS: Final = {"errors", "error_count", "rate"}
_KNOWN: Final = "p(X), pX, mean, avg, med, min, max, errors, rate, http_req_failed, ok, rps, records"


class ThresholdError(ValueError):
    """A threshold expression that cannot be parsed; the message names the expression and the problem."""


@dataclasses.dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed expression. ``value`` is in the metric's unit: ms for latency, a fraction for shares."""

    expression: str  # as the user wrote it (trimmed)
    metric: str  # canonical: "p95", "p99.9", "mean", "min", "max", "errors", "error_count", "rate", "rps", ...
    op: str
    value: float
    percent: Fraction | None = None  # for percentile metrics
    default: bool = False  # added by with_run_checks, not written by the user

    @property
    def is_latency(self) -> bool:
        return self.metric not in {*_ERROR_METRICS, "ok", "rps", "records"}

    def actual(self, summary: Summary) -> float | None:
        """The run's value of this metric, in the threshold's unit; None when no request succeeded (latency)."""
        if self.metric in {"errors", "rate"}:
            return summary.error_rate
        if self.metric == "error_count":
            return float(summary.errors)
        if self.metric == "ok":
            return float(summary.ok)
        if self.metric == "rps":
            return summary.requests_per_s
        if self.metric == "records":
            return summary.records_per_s
        latency = summary.ok_latency
        if latency is None:
            return None
        if self.metric == "mean":
            return latency.mean_ms
        if self.metric == "min":
            return latency.min_us / 1000
        if self.metric == "max":
            return latency.max_us / 1000
        if self.percent is not None and self.metric in latency.percentiles_us:
            return latency.percentiles_us[self.metric] / 1000
        raise ThresholdError(
            f"threshold {self.expression!r}: the summary has no {self.metric}; "
            "summarize with extra_percentiles=required_percentiles(thresholds)"
        )

    def check(self, actual: float | None) -> bool:
        return actual is not None and _OPERATORS[self.op](actual, self.value)


@dataclasses.dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    actual: float | None  # in the threshold's unit (ms, fraction, count, per second)
    passed: bool
    reason: str | None = None  # why it failed, in words, when the number alone does not say


def _parse_one(text: str) -> Threshold:
    expression = text.strip()
    match = _EXPRESSION.match(expression.lower())
    if match is None:
        raise ThresholdError(
            f"threshold {expression!r} is not 'metric operator value' (for example 'p(95)<200', "
            f"'errors<=1%', 'rps>=1000'); metrics: {_KNOWN}"
        )
    metric, op, number, unit = match["metric"], match["op"], float(match["number"]), match["unit"] or ""
    percentile = _PERCENTILE.match(metric)
    if percentile is not None or metric in _LATENCY_METRICS:
        if unit == "%":
            raise ThresholdError(f"threshold {expression!r}: latency takes ms, s or us, not '%'")
        value = number * _LATENCY_UNITS_MS[unit]
        if percentile is None:
            name = _LATENCY_METRICS[metric]
            percent = Fraction(50) if name == "p50" else None
            return Threshold(expression, name, op, value, percent)
        percent = Fraction(percentile["value"])
        if not 0 < percent <= 100:
            raise ThresholdError(f"threshold {expression!r}: percentile {percentile['value']} is not in (0, 100]")
        name = "max" if percent == 100 else percentile_label(percent)
        return Threshold(expression, name, op, value, None if percent == 100 else percent)
    if metric in _SHARE_METRICS:
        if unit not in {"", "%"}:
            raise ThresholdError(f"threshold {expression!r}: {metric} takes a number or a percentage, not {unit!r}")
        if metric == "errors" and unit == "":
            return Threshold(expression, "error_count", op, number)
        share = number / 100 if unit == "%" else number
        if share > 1:
            raise ThresholdError(f"threshold {expression!r}: a share cannot exceed 100%")
        return Threshold(expression, "rate" if metric == "http_req_failed" else metric, op, share)
    if metric == "ok":
        if unit:
            raise ThresholdError(f"threshold {expression!r}: ok counts requests and takes no unit, not {unit!r}")
        return Threshold(expression, "ok", op, number)
    if metric in _COUNT_METRICS:
        if unit:
            raise ThresholdError(f"threshold {expression!r}: {metric} is per second and takes no unit, not {unit!r}")
        return Threshold(expression, metric, op, number)
    raise ThresholdError(f"threshold {expression!r}: unknown metric {metric!r}; metrics: {_KNOWN}")


def parse_thresholds(specs: str | Iterable[str]) -> list[Threshold]:
    """Parse one comma-separated string, or several (a repeated ``--threshold`` option), in order."""
    texts = [specs] if isinstance(specs, str) else list(specs)
    thresholds: list[Threshold] = []
    for text in texts:
        parts = text.split(",")
        if any(not part.strip() for part in parts):
            raise ThresholdError(f"threshold list {text!r} has an empty expression (a stray comma?)")
        thresholds.extend(_parse_one(part) for part in parts)
    return thresholds


def required_percentiles(thresholds: Iterable[Threshold]) -> list[Fraction]:
    """Percentiles the thresholds read: pass them to ``summarize(extra_percentiles=...)`` (e.g. p(97.5))."""
    return sorted({t.percent for t in thresholds if t.percent is not None})


def with_run_checks(thresholds: Sequence[Threshold]) -> list[Threshold]:
    """``thresholds`` plus the checks no run may fail when any threshold is given: ``ok>0`` and, when no
    threshold limits errors, ``DEFAULT_ERROR_LIMIT``. An empty list stays empty (no thresholds, no verdict)."""
    if not thresholds:
        return []
    checks = list(thresholds)
    if not any(t.metric in _ERROR_METRICS for t in thresholds):
        checks.append(dataclasses.replace(_parse_one(DEFAULT_ERROR_LIMIT), default=True))
    if not any(t.metric == "ok" for t in thresholds):
        checks.append(dataclasses.replace(_parse_one("ok>0"), default=True))
    return checks


def evaluate(thresholds: Sequence[Threshold], summary: Summary) -> list[ThresholdResult]:
    """Check every threshold against the summary, in order."""
    results = []
    for threshold in thresholds:
        actual = threshold.actual(summary)
        passed = threshold.check(actual)
        reason = None
        if not passed and actual is None:
            reason = "no request succeeded: nothing to measure"
        elif not passed and threshold.metric == "ok" and summary.ok == 0:
            reason = f"no request succeeded ({_errors_in_words(summary)})"
        elif not passed and threshold.metric in _ERROR_METRICS:
            reason = _errors_in_words(summary)
        results.append(ThresholdResult(threshold, actual, passed, reason))
    return results


def failure_reasons(results: Iterable[ThresholdResult]) -> list[str]:
    """One line per failed threshold, saying why: ``"ok>0 (default): no request succeeded (50 of 50 ...)"``."""
    lines = []
    for result in results:
        if result.passed:
            continue
        threshold = result.threshold
        name = threshold.expression + (" (default)" if threshold.default else "")
        lines.append(f"{name}: {result.reason or f'actual {result.actual:g}'}")
    return lines


def _errors_in_words(summary: Summary) -> str:
    """ "50 of 50 requests failed: HTTP 401 x50" (each kind of failure and status, as the summary counts them)."""
    kinds = [f"{kind} {count}" for kind, count in summary.failed.items()]
    kinds += [f"HTTP {status} x{count}" for status, count in summary.non_2xx.items()]
    return f"{summary.errors} of {summary.requests} requests failed" + (f": {', '.join(kinds)}" if kinds else "")


def all_passed(results: Iterable[ThresholdResult]) -> bool:
    return all(result.passed for result in results)
