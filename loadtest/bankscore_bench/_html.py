"""One self-contained HTML report: inline CSS, inline SVG charts, no script, no network.

The page is rendered from Jinja2 templates shipped with the package (``templates/report.html.j2``), with
autoescaping on, so every piece of text from the run is escaped. A Content-Security-Policy meta tag forbids
every fetch (``default-src 'none'``), so even a mistake in a template could not make the page load anything.
Tooltips are SVG ``<title>`` elements.

Charts: latency over time (p50/p95/p99 per second), the percentile curve on HdrHistogram's
``1/(1-p)`` log axis, throughput and errors per second, and for a sweep latency against throughput. This
module lays the charts out (``LineChart``: every position in pixels) and formats the tables' numbers; the
templates turn both into markup.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import jinja2
import numpy as np

from bankscore._version import __version__
from bankscore_bench._outputs import GENERATOR_CPU_WARNING_PERCENT, format_threshold_actual, redact_url
from bankscore_bench._samples import RunInfo, SampleLog
from bankscore_bench._stats import (
    Int64Array,
    LatencyStats,
    Second,
    Summary,
    completion_and_latency_us,
    percentile_label,
    percentile_us,
)
from bankscore_bench._sweep import SweepResult
from bankscore_bench._thresholds import ThresholdResult

__all__ = ["LineChart", "percentile_curve", "render_html", "report_html", "write_html"]

_WIDTH, _HEIGHT = 760, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 28, 44
_MAX_TOOLTIPS: Final = 400  # points per line with a tooltip each; beyond that they would bloat the page
_COLORS: Final = {"p50": "#2b7bb9", "p95": "#e08a1e", "p99": "#c0392b", "ok": "#2b7bb9", "errors": "#c0392b"}


@functools.cache
def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("bankscore_bench", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render instead of leaving a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["px"] = _px
    return environment


def _px(value: float) -> str:
    """A pixel position, to a tenth of a pixel."""
    return f"{value:.1f}"


def _ms(value_us: float | None) -> str:
    return "-" if value_us is None else f"{value_us / 1000:.3f}"


def _to_ms(value_us: int | None) -> float | None:
    return None if value_us is None else value_us / 1000


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= raw)


@dataclasses.dataclass(frozen=True)
class _Series:
    label: str
    color: str
    points: Sequence[tuple[float, float | None]]  # None leaves a gap


@dataclasses.dataclass(frozen=True)
class _Tick:
    at: float  # pixels
    label: str


@dataclasses.dataclass(frozen=True)
class _Point:
    x: float
    y: float
    tip: str


@dataclasses.dataclass(frozen=True)
class _Line:
    label: str
    color: str
    polylines: list[str]  # SVG ``points`` of each unbroken run of values
    points: list[_Point]  # the tooltips
    legend_x: int


@dataclasses.dataclass(frozen=True)
class LineChart:
    """An SVG line chart laid out in pixels, for the ``line_chart`` template macro."""

    chart_id: str
    title: str
    x_label: str
    y_label: str
    y_ticks: list[_Tick]
    x_ticks: list[_Tick]
    lines: list[_Line]
    width: int = _WIDTH
    height: int = _HEIGHT
    left: int = _LEFT
    top: int = _TOP
    plot_width: int = _WIDTH - _LEFT - _RIGHT
    plot_height: int = _HEIGHT - _TOP - _BOTTOM

    @property
    def plot_right(self) -> int:
        return self.left + self.plot_width

    @property
    def plot_bottom(self) -> int:
        return self.top + self.plot_height


def _line_chart(
    chart_id: str,
    title: str,
    series: Sequence[_Series],
    *,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    point_titles: Sequence[str] | None = None,
    whole_x: bool = False,
) -> LineChart:
    """Lay out a line chart: y starts at 0; each point carries a tooltip; ``whole_x``: integer x ticks."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if y is not None]
    x_min, x_max = (min(xs), max(xs)) if xs else (0.0, 1.0)
    if x_max <= x_min:
        x_max = x_min + 1
    y_step = _nice_step(max(ys, default=1.0) or 1.0)
    y_max = y_step * max(1, math.ceil(max(ys, default=1.0) / y_step))
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x_min) / (x_max - x_min) * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - y / y_max * plot_h

    y_ticks = []
    tick = 0.0
    while tick <= y_max + y_step / 2:
        y_ticks.append(_Tick(py(tick), f"{tick:g}"))
        tick += y_step
    if x_ticks is None:
        x_step = _nice_step(x_max - x_min, 8)
        if whole_x:  # seconds are whole: a "0.2 s" tick would promise data that is not there
            x_step = float(max(1, math.ceil(x_step)))
        first = math.ceil(x_min / x_step) * x_step
        x_ticks = [(first + i * x_step, f"{first + i * x_step:g}") for i in range(int((x_max - first) / x_step) + 1)]
    lines = []
    for number, line in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for x_value, y_value in line.points:
            if y_value is None:
                runs.append([])
            else:
                runs[-1].append((px(x_value), py(y_value)))
        polylines = [" ".join(f"{x:.1f},{y:.1f}" for x, y in run) for run in runs if len(run) > 1]
        points = []
        if len(line.points) <= _MAX_TOOLTIPS:
            for index, (x_value, y_value) in enumerate(line.points):
                if y_value is not None:
                    tip = point_titles[index] if point_titles else f"{y_value:g} at {x_label} {x_value:g}"
                    points.append(_Point(px(x_value), py(y_value), tip))
        legend_x = _WIDTH - _RIGHT - 90 * (len(series) - number)
        lines.append(_Line(line.label, line.color, polylines, points, legend_x))
    return LineChart(
        chart_id,
        title,
        x_label,
        y_label,
        y_ticks,
        [_Tick(px(value), label) for value, label in x_ticks],
        lines,
    )


def percentile_curve(latencies_us: Int64Array, *, points_per_decade: int = 20) -> list[tuple[float, int]]:
    """(log10(1/(1-p)), exact pX in µs) from p = 0 up to the maximum, on HdrHistogram's plot axis."""
    ordered = np.sort(latencies_us)
    count = len(ordered)
    if count == 0:
        return []
    top = math.log10(count)  # beyond 1/(1-p) = n every point is the maximum
    curve = []
    for step in range(math.ceil(top * points_per_decade) + 1):
        x = min(step / points_per_decade, top)
        percent = Fraction(100) * (1 - Fraction(10.0**-x))  # exact value of the float p
        curve.append((x, percentile_us(ordered, min(max(percent, Fraction(1, 10**9)), Fraction(100)))))
    if curve[-1][1] < ordered[-1]:
        curve.append((top, int(ordered[-1])))  # the curve ends at the maximum, as HdrHistogram's plots do
    return curve


def _percentile_chart(views: Sequence[tuple[str, str, Int64Array]]) -> LineChart:
    series = [
        _Series(label, color, [(x, v / 1000) for x, v in percentile_curve(values)]) for label, color, values in views
    ]
    top = max((x for s in series for x, _ in s.points), default=1.0)
    ticks = [(float(d), "0%" if d == 0 else f"{100 - 100 / 10**d:g}%") for d in range(math.floor(top) + 1)]
    return _line_chart(
        "chart-percentiles",
        "Latency by percentile (HdrHistogram axis: 1/(1-p), log scale)",
        series,
        x_label="percentile",
        y_label="ms",
        x_ticks=ticks,
    )


def _timeline_charts(timeline: Sequence[Second]) -> list[LineChart]:
    latency = [
        _Series(label, _COLORS[label], [(s.second, _to_ms(getattr(s, f"{label}_us"))) for s in timeline])
        for label in ("p50", "p95", "p99")
    ]
    throughput = [
        _Series("req/s", _COLORS["ok"], [(s.second, s.requests_per_s) for s in timeline]),
        _Series("errors", _COLORS["errors"], [(s.second, float(s.errors)) for s in timeline]),
    ]
    return [
        _line_chart(
            "chart-latency-over-time",
            "Latency per second (exact p50, p95, p99)",
            latency,
            x_label="second",
            y_label="ms",
            whole_x=True,
        ),
        _line_chart(
            "chart-throughput",
            "Throughput and errors per second",
            throughput,
            x_label="second",
            y_label="per second",
            whole_x=True,
        ),
    ]


def _sweep_scope_note(sweep: SweepResult | None) -> str | None:
    """For a sweep, say which run the summary, latency and per-second sections describe (the last one)."""
    if sweep is None or not sweep.points:
        return None
    last = sweep.points[-1]
    return (
        f"Summary, latency and charts describe the last run of the sweep ({sweep.spec.dimension} {last.level:g}, "
        f"trial {last.trials}); the Sweep section below covers every level."
    )


def _sweep_chart(sweep: SweepResult) -> LineChart:
    curve = sweep.curve
    titles = [
        f"{sweep.spec.dimension} {point.level:g}: {point.requests_per_s:.1f} req/s, "
        f"p99 {_ms(point.p99_us)} ms, SLO {'met' if point.slo_ok else 'missed'}"
        for point in curve
    ]
    series = [
        _Series(label, _COLORS[label], [(p.requests_per_s, _to_ms(getattr(p, f"{label}_us"))) for p in curve])
        for label in ("p50", "p99")
    ]
    return _line_chart(
        "chart-sweep",
        f"Latency against throughput ({sweep.spec.dimension} sweep)",
        series,
        x_label="requests per second",
        y_label="ms",
        point_titles=titles,
    )


def _sweep_section(sweep: SweepResult) -> dict[str, Any]:
    best = sweep.best
    rows = [
        [
            f"{p.level:g}",
            f"{p.requests_per_s:.1f}",
            _ms(p.p50_us),
            _ms(p.p99_us),
            f"{p.error_rate * 100:.2f}%",
            "yes" if p.stable else "no",
            str(p.trials),
            "met" if p.slo_ok else "missed",
        ]
        for p in sweep.curve
    ]
    return {
        "title": sweep.spec.text,
        "best": (
            f"best: {sweep.spec.dimension} {best.level:g} at {best.requests_per_s:.1f} req/s"
            if best
            else "no level met the SLO"
        ),
        "chart": _sweep_chart(sweep),
        "header": [sweep.spec.dimension, "req/s", "p50 ms", "p99 ms", "errors", "stable", "trials", "SLO"],
        "rows": rows,
    }


def _summary_rows(summary: Summary) -> list[tuple[str, str]]:
    rows = [
        ("Requests", f"{summary.requests}"),
        ("OK (2xx, no failure)", f"{summary.ok}"),
        ("Errors", f"{summary.errors} ({summary.error_rate * 100:.2f}%)"),
    ]
    rows += [(f"Failed: {kind}", str(count)) for kind, count in summary.failed.items()]
    rows += [(f"Non-2xx: HTTP {status}", str(count)) for status, count in summary.non_2xx.items()]
    rows += [
        ("Duration", f"{summary.duration_s:.3f} s"),
        ("Requests per second", f"{summary.requests_per_s:.2f}"),
        ("OK requests per second", f"{summary.ok_per_s:.2f}"),
    ]
    if summary.records:  # a -p file or a GET sends no records: no "0.00 records/s" that reads as a failure
        rows.append(("Records scored per second", f"{summary.records_per_s:.2f}"))
    rows.append(("Bytes received / body / sent", f"{summary.bytes_read} / {summary.body_bytes} / {summary.bytes_sent}"))
    if summary.open_loop:
        rows += [("Late sends", str(summary.late)), ("Dropped (never sent)", str(summary.dropped))]
    return rows


def _latency_table(summary: Summary) -> tuple[list[str], list[list[str]]]:
    """The latency table's header and rows; no header when no request got a response."""
    views: list[tuple[str, LatencyStats]] = []
    if summary.uncorrected_latency is not None:
        views.append(("from the actual send (ms)", summary.uncorrected_latency))
    if summary.corrected_latency is not None and summary.open_loop:
        views.append(("from the scheduled send (ms)", summary.corrected_latency))
    if not views:
        return [], []
    first = views[0][1]
    rows = [
        ["min", *[_ms(v.min_us) for _, v in views]],
        ["mean", *[f"{v.mean_ms:.3f}" for _, v in views]],
        ["sd", *[f"{v.sd_ms:.3f}" for _, v in views]],
    ]
    rows += [[label, *[_ms(v.percentiles_us[label]) for _, v in views]] for label in first.percentiles_us]
    rows.append(["max", *[_ms(v.max_us) for _, v in views]])
    return ["", *[title for title, _ in views]], rows


def _validity_rows(stats: LatencyStats | None) -> list[list[str]] | None:
    if stats is None:
        return None
    return [
        [
            percentile_label(v.percent),
            _ms(stats.percentiles_us.get(percentile_label(v.percent))),
            "VALID" if v.valid else "INVALID",
            _ms(v.bound_us),
            str(v.min_requests),
        ]
        for v in stats.validity
    ]


def _warnings(info: RunInfo, summary: Summary) -> list[str]:
    notes = []
    cpu = info.generator_cpu_percent
    if cpu is not None and cpu >= GENERATOR_CPU_WARNING_PERCENT:
        notes.append(
            f"The load generator used {cpu:.0f}% CPU: it was saturated, so latencies include its own queueing "
            "and the throughput is a floor of what the service can take."
        )
    if info.interrupted:
        notes.append("The run was interrupted before its planned end; the numbers cover what ran.")
    if summary.open_loop and (summary.dropped or summary.late):
        notes.append(
            f"Open loop: {summary.late} requests were sent late and {summary.dropped} never sent; "
            "the corrected view counts the waiting."
        )
    return notes


def render_html(
    info: RunInfo,
    summary: Summary,
    *,
    latencies_us: Int64Array | None = None,
    corrected_latencies_us: Int64Array | None = None,
    timeline: Sequence[Second] = (),
    thresholds: Sequence[ThresholdResult] = (),
    sweep: SweepResult | None = None,
) -> str:
    """The whole report page. ``latencies_us`` (and for open loop ``corrected_latencies_us``) are the
    responded requests' latencies for the percentile curve; without them the curve is left out."""
    loop = f"open loop, {info.arrivals} arrivals at {info.rate:g}/s" if info.rate is not None else "closed loop"
    charts = []
    if latencies_us is not None and len(latencies_us):
        views = [("actual send", _COLORS["p50"], latencies_us)]
        if corrected_latencies_us is not None and summary.open_loop and len(corrected_latencies_us):
            views.append(("scheduled send", _COLORS["p99"], corrected_latencies_us))
        charts.append(_percentile_chart(views))
    if timeline:
        charts += _timeline_charts(timeline)
    latency_header, latency_rows = _latency_table(summary)
    timeline_rows = [
        [
            str(s.second),
            str(s.requests),
            f"{s.requests_per_s:.1f}",
            str(s.errors),
            _ms(s.p50_us),
            _ms(s.p95_us),
            _ms(s.p99_us),
        ]
        for s in timeline
    ]
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            title=f"bankscore-bench report: {info.method} {info.host}:{info.port}{redact_url(info.path)}",
            meta=(
                f"{info.method} {redact_url(info.url)} · concurrency {info.concurrency} · {loop} · "
                f"{summary.duration_s:.3f} s · bankscore-bench {__version__}"
            ),
            warnings=_warnings(info, summary),
            sweep_note=_sweep_scope_note(sweep),
            summary_rows=_summary_rows(summary),
            latency_header=latency_header,
            latency_rows=latency_rows,
            validity_rows=_validity_rows(summary.latency),
            thresholds=[
                {
                    "expression": r.threshold.expression + (" (default)" if r.threshold.default else ""),
                    "actual": format_threshold_actual(r) + (f" ({r.reason})" if r.reason and not r.passed else ""),
                    "passed": r.passed,
                }
                for r in thresholds
            ],
            thresholds_passed=all(r.passed for r in thresholds),
            charts=charts,
            sweep=_sweep_section(sweep) if sweep is not None else None,
            timeline_rows=timeline_rows,
        )
    )


def report_html(
    info: RunInfo,
    log: SampleLog,
    summary: Summary,
    *,
    timeline: Sequence[Second] = (),
    thresholds: Sequence[ThresholdResult] = (),
    sweep: SweepResult | None = None,
) -> str:
    """``render_html`` with the percentile curves taken from the run's own samples."""
    _, _, uncorrected = completion_and_latency_us(log, corrected=False)
    corrected = completion_and_latency_us(log, corrected=True)[2] if summary.open_loop else None
    return render_html(
        info,
        summary,
        latencies_us=uncorrected,
        corrected_latencies_us=corrected,
        timeline=timeline,
        thresholds=thresholds,
        sweep=sweep,
    )


def write_html(path: Path, page: str) -> None:
    path.write_text(page, encoding="utf-8")
