"""Machine and console outputs of a run: JSON, CSV, the summary block and the ``--timeline`` table.

JSON (``report_dict``; schema ``bankscore-bench/1``; keys are stable, new keys may be added)::

    schema, tool{name, version}
    run{url, host, port, path, method, concurrency, started_us, ended_us, duration_s, server_software,
        document_length, keepalive, posted, write_errors, rate, arrivals, late, dropped, interrupted,
        generator_cpu_percent, extra{}}
    summary{requests, responded, ok, errors, error_rate, failed{kind: n}, non_2xx{"status": n}, duration_s,
            requests_per_s, ok_per_s, records, records_per_s, bytes_read, body_bytes, bytes_sent, open_loop,
            headline ("corrected" | "uncorrected"), late, dropped,
            latency{uncorrected, corrected}: null | {count, min_us, max_us, mean_ms, sd_ms,
                percentiles_us{"p50": µs, ..., "p99.99": µs}, validity[{percentile, requests, min_requests,
                valid, bound_us}]}}
    timeline[{second, requests, ok, errors, records, bytes_read, requests_per_s, p50_us, p95_us, p99_us}]
    thresholds[{expression, metric, op, value, actual, passed, default, reason}], thresholds_passed (null when none)
    sweep: null | {spec, dimension, mode, slo[], best_level, points[{level, trials, stable, slo_ok, requests,
                   requests_per_s, ok_per_s, p50_us, p99_us, error_rate}]}

Times are integer µs (``_us``) or float seconds/ms as named; shares are fractions (0.01 = 1 %).

Keys never leave: the URL loses any user:password and the values of key-like query parameters, and
``RunInfo.extra`` entries whose name looks secret (key, token, authorization, ...) are dropped. Request
headers are not part of RunInfo and so never reach a report.

CSV: ``write_requests_csv`` writes one row per request in start order with every ``SampleLog`` column
(``failure`` as its lower-case name) plus ``processing_us`` and ``corrected_total_us``; ab's ``-g`` file has
the same information sorted by total time and rounded to ms. ``write_timeline_csv`` and
``write_sweep_csv`` write the timeline and the sweep curve with the JSON keys as columns.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from bankscore._version import __version__
from bankscore_bench._samples import COLUMNS, Failure, RunInfo, SampleLog
from bankscore_bench._stats import LatencyStats, Second, Summary, percentile_label
from bankscore_bench._sweep import SweepPoint, SweepResult
from bankscore_bench._thresholds import ThresholdResult

__all__ = [
    "GENERATOR_CPU_WARNING_PERCENT",
    "JSON_SCHEMA",
    "REQUEST_CSV_COLUMNS",
    "SWEEP_CSV_COLUMNS",
    "TIMELINE_CSV_COLUMNS",
    "format_threshold_actual",
    "redact_url",
    "render_summary_text",
    "render_sweep_point",
    "render_sweep_text",
    "render_timeline_text",
    "report_dict",
    "safe_extra",
    "write_csv_files",
    "write_json",
    "write_requests_csv",
    "write_sweep_csv",
    "write_timeline_csv",
]

JSON_SCHEMA: Final = "bankscore-bench/1"
REQUEST_CSV_COLUMNS: Final = (*COLUMNS, "processing_us", "corrected_total_us")
TIMELINE_CSV_COLUMNS: Final = tuple(field.name for field in dataclasses.fields(Second))
SWEEP_CSV_COLUMNS: Final = (
    "level",
    "trials",
    "stable",
    "slo_ok",
    "requests",
    "requests_per_s",
    "ok_per_s",
    "p50_us",
    "p99_us",
    "error_rate",
)
_SECRET_NAME: Final = re.compile(r"key|token|secret|passw|auth|sig|code|cookie|credential", re.IGNORECASE)
GENERATOR_CPU_WARNING_PERCENT: Final = 90.0  # Locust warns at the same load (runners.py CPU_WARNING_THRESHOLD)


# --- redaction ---------------------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL without user:password and with key-like query values (``?code=``, ``?api-key=``) replaced."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    safe_query = [(name, "REDACTED" if _SECRET_NAME.search(name) else value) for name, value in query]
    return urllib.parse.urlunsplit(
        (parts.scheme, netloc, parts.path, urllib.parse.urlencode(safe_query, safe="*"), parts.fragment)
    )


def safe_extra(extra: dict[str, str]) -> dict[str, str]:
    """``RunInfo.extra`` without entries whose name looks secret or whose value is a bearer credential."""
    return {
        name: value
        for name, value in extra.items()
        if not _SECRET_NAME.search(name) and not value.lower().startswith(("bearer ", "basic "))
    }


# --- JSON --------------------------------------------------------------------------------------------------


def _run_dict(info: RunInfo) -> dict[str, Any]:
    return {
        "url": redact_url(info.url),
        "host": info.host,
        "port": info.port,
        "path": redact_url(info.path),
        "method": info.method,
        "concurrency": info.concurrency,
        "started_us": info.started_us,
        "ended_us": info.ended_us,
        "duration_s": info.time_taken_s,
        "server_software": info.server_software,
        "document_length": info.document_length,
        "keepalive": info.keepalive,
        "posted": info.posted,
        "write_errors": info.write_errors,
        "rate": info.rate,
        "arrivals": info.arrivals,
        "late": info.late,
        "dropped": info.dropped,
        "interrupted": info.interrupted,
        "generator_cpu_percent": info.generator_cpu_percent,
        "extra": safe_extra(info.extra),
    }


def _latency_dict(stats: LatencyStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {
        "count": stats.count,
        "min_us": stats.min_us,
        "max_us": stats.max_us,
        "mean_ms": stats.mean_ms,
        "sd_ms": stats.sd_ms,
        "percentiles_us": dict(stats.percentiles_us),
        "validity": [
            {
                "percentile": percentile_label(v.percent),
                "requests": v.requests,
                "min_requests": v.min_requests,
                "valid": v.valid,
                "bound_us": v.bound_us,
            }
            for v in stats.validity
        ],
    }


def _summary_dict(summary: Summary) -> dict[str, Any]:
    return {
        "requests": summary.requests,
        "responded": summary.responded,
        "ok": summary.ok,
        "errors": summary.errors,
        "error_rate": summary.error_rate,
        "failed": dict(summary.failed),
        "non_2xx": {str(status): count for status, count in summary.non_2xx.items()},
        "duration_s": summary.duration_s,
        "requests_per_s": summary.requests_per_s,
        "ok_per_s": summary.ok_per_s,
        "records": summary.records,
        "records_per_s": summary.records_per_s,
        "bytes_read": summary.bytes_read,
        "body_bytes": summary.body_bytes,
        "bytes_sent": summary.bytes_sent,
        "open_loop": summary.open_loop,
        "headline": "corrected" if summary.corrected else "uncorrected",
        "late": summary.late,
        "dropped": summary.dropped,
        "latency": {
            "uncorrected": _latency_dict(summary.uncorrected_latency),
            "corrected": _latency_dict(summary.corrected_latency),
        },
    }


def _threshold_dict(result: ThresholdResult) -> dict[str, Any]:
    threshold = result.threshold
    return {
        "expression": threshold.expression,
        "metric": threshold.metric,
        "op": threshold.op,
        "value": threshold.value,
        "actual": result.actual,
        "passed": result.passed,
        "default": threshold.default,
        "reason": result.reason,
    }


def _point_dict(point: SweepPoint) -> dict[str, Any]:
    return {name: getattr(point, name) for name in SWEEP_CSV_COLUMNS}


def _sweep_dict(sweep: SweepResult) -> dict[str, Any]:
    best = sweep.best
    return {
        "spec": sweep.spec.text,
        "dimension": sweep.spec.dimension,
        "mode": sweep.spec.mode,
        "slo": [threshold.expression for threshold in sweep.slo],
        "best_level": best.level if best else None,
        "points": [_point_dict(point) for point in sweep.curve],
    }


def report_dict(
    info: RunInfo,
    summary: Summary,
    *,
    timeline: Sequence[Second] = (),
    thresholds: Sequence[ThresholdResult] = (),
    sweep: SweepResult | None = None,
) -> dict[str, Any]:
    """Everything about a run as plain JSON types (see the module docstring for the keys)."""
    return {
        "schema": JSON_SCHEMA,
        "tool": {"name": "bankscore-bench", "version": __version__},
        "run": _run_dict(info),
        "summary": _summary_dict(summary),
        "timeline": [dataclasses.asdict(second) for second in timeline],
        "thresholds": [_threshold_dict(result) for result in thresholds],
        "thresholds_passed": all(r.passed for r in thresholds) if thresholds else None,
        "sweep": _sweep_dict(sweep) if sweep is not None else None,
    }


def write_json(path: Path, report: dict[str, Any]) -> None:
    # allow_nan=False: a NaN would make the file unreadable by strict JSON parsers; none is expected.
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")


# --- CSV ---------------------------------------------------------------------------------------------------


def write_requests_csv(path: Path, log: SampleLog) -> None:
    """One row per request, in start order (a distributed log is merged worker by worker), every column."""
    columns = {name: np.frombuffer(getattr(log, name), dtype=np.int64) for name in COLUMNS}
    order = np.argsort(columns["start_us"], kind="stable")
    ordered = {name: values[order] for name, values in columns.items()}
    failure_names = {int(kind): kind.name.lower() for kind in Failure}
    derived = {
        "processing_us": ordered["total_us"] - ordered["connect_us"],
        "corrected_total_us": ordered["start_us"] - ordered["intended_us"] + ordered["total_us"],
    }
    lists: list[list[Any]] = [ordered[name].tolist() for name in COLUMNS] + [
        derived[name].tolist() for name in REQUEST_CSV_COLUMNS[len(COLUMNS) :]
    ]
    failure_index = list(COLUMNS).index("failure")
    lists[failure_index] = [failure_names.get(code, str(code)) for code in lists[failure_index]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REQUEST_CSV_COLUMNS)
        writer.writerows(zip(*lists, strict=True))


def _write_rows(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write_timeline_csv(path: Path, timeline: Sequence[Second]) -> None:
    _write_rows(path, TIMELINE_CSV_COLUMNS, (dataclasses.asdict(second) for second in timeline))


def write_sweep_csv(path: Path, sweep: SweepResult) -> None:
    _write_rows(path, SWEEP_CSV_COLUMNS, (_point_dict(point) for point in sweep.curve))


def write_csv_files(prefix: str, log: SampleLog, timeline: Sequence[Second], sweep: SweepResult | None) -> None:
    """``--csv PREFIX``: PREFIX_requests.csv, PREFIX_timeline.csv and, for a sweep, PREFIX_sweep.csv."""
    write_requests_csv(Path(f"{prefix}_requests.csv"), log)
    write_timeline_csv(Path(f"{prefix}_timeline.csv"), timeline)
    if sweep is not None:
        write_sweep_csv(Path(f"{prefix}_sweep.csv"), sweep)


# --- console -----------------------------------------------------------------------------------------------


def _ms(value_us: float | None) -> str:
    return "-" if value_us is None else f"{value_us / 1000:.3f}"


def _latency_lines(title: str, stats: LatencyStats) -> list[str]:
    percentiles = "  ".join(f"{label} {_ms(value)}" for label, value in stats.percentiles_us.items())
    return [
        f"  {title}",
        f"    min {_ms(stats.min_us)}  mean {stats.mean_ms:.3f}  sd {stats.sd_ms:.3f}  max {_ms(stats.max_us)}",
        f"    {percentiles}",
    ]


def _validity_line(stats: LatencyStats) -> str | None:
    claim = next((v for v in stats.validity if percentile_label(v.percent) == "p99"), None)
    if claim is None:
        return None
    if claim.bound_us is not None:
        return f"  p99 claim at 99% confidence: <= {_ms(claim.bound_us)} ms  VALID"
    return f"  p99 claim at 99% confidence: INVALID (needs >= {claim.min_requests} requests, ran {claim.requests})"


def format_threshold_actual(result: ThresholdResult) -> str:
    """The actual value in the threshold's own unit, for people (ms, %, /s)."""
    metric, actual = result.threshold.metric, result.actual
    if actual is None:
        return "no successful request"
    if metric in {"errors", "rate"}:
        return f"{actual * 100:.2f}%"
    if metric in {"error_count", "ok"}:
        return f"{actual:.0f}"
    if metric in {"rps", "records"}:
        return f"{actual:.2f}/s"
    return f"{actual:.3f} ms"


def render_summary_text(
    summary: Summary,
    *,
    thresholds: Sequence[ThresholdResult] = (),
    generator_cpu_percent: float | None = None,
) -> str:
    """The short block printed after ab's report: exact percentiles, records/s, corrected view, thresholds."""
    lines = ["bankscore-bench summary"]
    breakdown = [f"{kind} {count}" for kind, count in summary.failed.items()]
    breakdown += [f"HTTP {status} x{count}" for status, count in summary.non_2xx.items()]
    detail = f" ({', '.join(breakdown)})" if breakdown else ""
    lines.append(
        f"  requests {summary.requests}  ok {summary.ok}  errors {summary.errors} "
        f"= {summary.error_rate * 100:.2f}%{detail}"
    )
    # records/s only when records were sent: a -p file or a GET has none, and "records 0.00/s" reads as a failure
    records = f"records {summary.records_per_s:.2f}/s  " if summary.records else ""
    lines.append(
        f"  throughput {summary.requests_per_s:.2f} req/s  ok {summary.ok_per_s:.2f} req/s  "
        f"{records}over {summary.duration_s:.3f} s"
    )
    if summary.uncorrected_latency is not None:
        lines += _latency_lines("latency (ms, exact, from the actual send)", summary.uncorrected_latency)
    if summary.corrected_latency is not None and summary.open_loop:
        lines += _latency_lines(
            "corrected latency (ms, from the scheduled send; what callers waited)", summary.corrected_latency
        )
    if summary.open_loop:
        lines.append(f"  open loop: late {summary.late}  dropped {summary.dropped}")
    if summary.latency is not None and (line := _validity_line(summary.latency)) is not None:
        lines.append(line)
    if summary.latency is None:
        lines.append("  latency: no request got a response")
    if generator_cpu_percent is not None and generator_cpu_percent >= GENERATOR_CPU_WARNING_PERCENT:
        lines.append(
            f"  WARNING: the load generator used {generator_cpu_percent:.0f}% CPU; latencies include its own queueing"
        )
    if thresholds:
        verdict = "all passed" if all(r.passed for r in thresholds) else "FAILED"
        lines.append(f"  thresholds (latency of successful requests only): {verdict}")
        for result in thresholds:
            mark = "pass" if result.passed else "FAIL"
            name = result.threshold.expression + (" (default)" if result.threshold.default else "")
            why = f"  ({result.reason})" if result.reason and not result.passed else ""
            lines.append(f"    {mark}  {name:<20} actual {format_threshold_actual(result)}{why}")
    return "\n".join(lines) + "\n"


def render_timeline_text(timeline: Sequence[Second]) -> str:
    """The ``--timeline`` table: one line per second of the run."""
    header = f"{'second':>6} {'requests':>8} {'req/s':>9} {'errors':>6} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"
    lines = [header]
    for second in timeline:
        lines.append(
            f"{second.second:>6} {second.requests:>8} {second.requests_per_s:>9.1f} {second.errors:>6} "
            f"{_ms(second.p50_us):>9} {_ms(second.p95_us):>9} {_ms(second.p99_us):>9}"
        )
    return "\n".join(lines) + "\n"


def render_sweep_point(point: SweepPoint, dimension: str) -> str:
    """One progress line per level, printed as the sweep runs."""
    stability = "stable" if point.stable else f"UNSTABLE after {point.trials} trials"
    return (
        f"{dimension} {point.level:g}: {point.requests_per_s:.1f} req/s  p50 {_ms(point.p50_us)} ms  "
        f"p99 {_ms(point.p99_us)} ms  errors {point.error_rate * 100:.2f}%  {stability}  "
        f"SLO {'met' if point.slo_ok else 'missed'}"
    )


def render_sweep_text(sweep: SweepResult) -> str:
    """The sweep's curve as a table, ordered by level, and its answer: the best level within the SLO."""
    dimension = sweep.spec.dimension
    lines = [
        f"bankscore-bench sweep {sweep.spec.text}"
        + (f"  SLO {', '.join(t.expression for t in sweep.slo)}" if sweep.slo else ""),
        f"{dimension:>11} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} "
        f"{'stable':>6} {'trials':>6} {'SLO':>6}",
    ]
    for point in sweep.curve:
        lines.append(
            f"{point.level:>11g} {point.requests_per_s:>10.1f} {_ms(point.p50_us):>9} {_ms(point.p99_us):>9} "
            f"{point.error_rate * 100:>6.2f}% {'yes' if point.stable else 'no':>6} {point.trials:>6} "
            f"{'met' if point.slo_ok else 'missed':>6}"
        )
    best = sweep.best
    if best is None:
        lines.append("no level met the SLO")
    else:
        lines.append(
            f"best: {dimension} {best.level:g} at {best.requests_per_s:.1f} req/s (p99 {_ms(best.p99_us)} ms, "
            f"errors {best.error_rate * 100:.2f}%)"
        )
    return "\n".join(lines) + "\n"
