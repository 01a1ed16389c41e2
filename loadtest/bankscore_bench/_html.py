"""One self-contained HTML report: inline CSS, inline SVG charts drawn here, no script, no network.

A Content-Security-Policy meta tag forbids every fetch (``default-src 'none'``), so even a mistake in this
module could not make the page load anything. Every piece of text from the run is passed through
``html.escape``. Tooltips are SVG ``<title>`` elements.

Charts: latency over time (p50/p95/p99 per second), the percentile curve on HdrHistogram's
``1/(1-p)`` log axis, throughput and errors per second, and for a sweep latency against throughput.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Final

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

__all__ = ["percentile_curve", "render_html", "report_html", "write_html"]

_WIDTH, _HEIGHT = 760, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 24, 28, 44
_COLORS: Final = {"p50": "#2b7bb9", "p95": "#e08a1e", "p99": "#c0392b", "ok": "#2b7bb9", "errors": "#c0392b"}
_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#555;margin:0 0 12px}table{border-collapse:collapse;margin:6px 0}
th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
.pass{color:#1e7e34;font-weight:600}.fail{color:#b00020;font-weight:600}
.warning{background:#fff4e5;border-left:4px solid #e08a1e;padding:8px 12px;margin:8px 0}
svg{background:#fff;border:1px solid #e5e5e5;margin:6px 0}svg text{font:11px system-ui,sans-serif;fill:#444}
.grid{stroke:#eee}.axis{stroke:#999}figure{margin:0}figcaption{color:#555;font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


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
) -> str:
    """An SVG line chart; y starts at 0; each point carries a <title> tooltip; ``whole_x``: integer x ticks."""
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

    parts = [
        f'<svg id="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{_LEFT}" y="16" style="font-weight:600">{_e(title)}</text>',
    ]
    tick = 0.0
    while tick <= y_max + y_step / 2:
        y = py(tick)
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_WIDTH - _RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += y_step
    if x_ticks is None:
        x_step = _nice_step(x_max - x_min, 8)
        if whole_x:  # seconds are whole: a "0.2 s" tick would promise data that is not there
            x_step = float(max(1, math.ceil(x_step)))
        first = math.ceil(x_min / x_step) * x_step
        x_ticks = [(first + i * x_step, f"{first + i * x_step:g}") for i in range(int((x_max - first) / x_step) + 1)]
    for value, label in x_ticks:
        x = px(value)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{_TOP}" x2="{x:.1f}" y2="{_TOP + plot_h}"/>')
        parts.append(f'<text x="{x:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{_e(label)}</text>')
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}"/>'
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}"/>'
        f'<text x="{_LEFT + plot_w / 2}" y="{_HEIGHT - 6}" text-anchor="middle">{_e(x_label)}</text>'
        f'<text transform="translate(14 {_TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{_e(y_label)}</text>'
    )
    for number, line in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for x_value, y_value in line.points:
            if y_value is None:
                runs.append([])
            else:
                runs[-1].append((px(x_value), py(y_value)))
        for run in runs:
            if len(run) > 1:
                coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(
                    f'<polyline class="series" fill="none" stroke="{line.color}" stroke-width="1.6" points="{coords}"/>'
                )
        if len(line.points) <= 400:  # tooltips on every point, unless that would bloat the page
            for index, (x_value, y_value) in enumerate(line.points):
                if y_value is None:
                    continue
                tip = point_titles[index] if point_titles else f"{y_value:g} at {x_label} {x_value:g}"
                parts.append(
                    f'<circle cx="{px(x_value):.1f}" cy="{py(y_value):.1f}" r="2.2" fill="{line.color}">'
                    f"<title>{_e(line.label)}: {_e(tip)}</title></circle>"
                )
        legend_x = _WIDTH - _RIGHT - 90 * (len(series) - number)
        parts.append(
            f'<rect x="{legend_x}" y="8" width="10" height="10" fill="{line.color}"/>'
            f'<text x="{legend_x + 14}" y="17">{_e(line.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


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


def _percentile_chart(views: Sequence[tuple[str, str, Int64Array]]) -> str:
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


def _timeline_charts(timeline: Sequence[Second]) -> str:
    latency = [
        _Series(label, _COLORS[label], [(s.second, _to_ms(getattr(s, f"{label}_us"))) for s in timeline])
        for label in ("p50", "p95", "p99")
    ]
    throughput = [
        _Series("req/s", _COLORS["ok"], [(s.second, s.requests_per_s) for s in timeline]),
        _Series("errors", _COLORS["errors"], [(s.second, float(s.errors)) for s in timeline]),
    ]
    return _line_chart(
        "chart-latency-over-time",
        "Latency per second (exact p50, p95, p99)",
        latency,
        x_label="second",
        y_label="ms",
        whole_x=True,
    ) + _line_chart(
        "chart-throughput",
        "Throughput and errors per second",
        throughput,
        x_label="second",
        y_label="per second",
        whole_x=True,
    )


def _sweep_scope_note(sweep: SweepResult | None) -> list[str]:
    """For a sweep, say which run the summary, latency and per-second sections describe (the last one)."""
    if sweep is None or not sweep.points:
        return []
    last = sweep.points[-1]
    text = (
        f"Summary, latency and charts describe the last run of the sweep ({sweep.spec.dimension} {last.level:g}, "
        f"trial {last.trials}); the Sweep section below covers every level."
    )
    return [f'<p class="meta">{_e(text)}</p>']


def _sweep_chart(sweep: SweepResult) -> str:
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


def _table(table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (cells this module built from escaped parts)."""
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{cell if raw else _e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table id="{_e(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


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


def _latency_table(summary: Summary) -> str:
    views: list[tuple[str, LatencyStats]] = []
    if summary.uncorrected_latency is not None:
        views.append(("from the actual send (ms)", summary.uncorrected_latency))
    if summary.corrected_latency is not None and summary.open_loop:
        views.append(("from the scheduled send (ms)", summary.corrected_latency))
    if not views:
        return "<p>No request got a response.</p>"
    first = views[0][1]
    rows = [
        ["min", *[_ms(v.min_us) for _, v in views]],
        ["mean", *[f"{v.mean_ms:.3f}" for _, v in views]],
        ["sd", *[f"{v.sd_ms:.3f}" for _, v in views]],
    ]
    rows += [[label, *[_ms(v.percentiles_us[label]) for _, v in views]] for label in first.percentiles_us]
    rows.append(["max", *[_ms(v.max_us) for _, v in views]])
    return _table("latency-table", ["", *[title for title, _ in views]], rows)


def _validity_table(stats: LatencyStats) -> str:
    rows = [
        [
            percentile_label(v.percent),
            _ms(stats.percentiles_us.get(percentile_label(v.percent))),
            "VALID" if v.valid else "INVALID",
            _ms(v.bound_us),
            str(v.min_requests),
        ]
        for v in stats.validity
    ]
    return _table(
        "validity-table", ["percentile", "exact (ms)", "99% claim", "claim holds for <= (ms)", "min requests"], rows
    )


def _thresholds_table(results: Sequence[ThresholdResult]) -> str:
    rows = []
    for result in results:
        verdict = '<span class="pass">pass</span>' if result.passed else '<span class="fail">FAIL</span>'
        actual = format_threshold_actual(result)
        rows.append([_e(result.threshold.expression), _e(actual), verdict])
    return _table("thresholds-table", ["threshold", "actual", "result"], rows, raw=True)


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
    meta = (
        f"{info.method} {redact_url(info.url)} · concurrency {info.concurrency} · {loop} · "
        f"{summary.duration_s:.3f} s · bankscore-bench {__version__}"
    )
    body = [
        "<h1>bankscore-bench report</h1>",
        f'<p class="meta">{_e(meta)}</p>',
        *[f'<p class="warning">{_e(note)}</p>' for note in _warnings(info, summary)],
        *_sweep_scope_note(sweep),
        '<section id="summary"><h2>Summary</h2>',
        _table("summary-table", ["", "value"], _summary_rows(summary)),
        "</section>",
        '<section id="latency"><h2>Latency (exact)</h2>',
        _latency_table(summary),
    ]
    if summary.latency is not None:
        body += [
            "<h3>Statistical validity (MLPerf early stopping, 99% confidence)</h3>",
            _validity_table(summary.latency),
        ]
    body.append("</section>")
    if thresholds:
        verdict = "all passed" if all(r.passed for r in thresholds) else "FAILED"
        body += [
            f'<section id="thresholds"><h2>Thresholds: {_e(verdict)}</h2>',
            _thresholds_table(thresholds),
            "</section>",
        ]
    charts = []
    if latencies_us is not None and len(latencies_us):
        views = [("actual send", _COLORS["p50"], latencies_us)]
        if corrected_latencies_us is not None and summary.open_loop and len(corrected_latencies_us):
            views.append(("scheduled send", _COLORS["p99"], corrected_latencies_us))
        charts.append(_percentile_chart(views))
    if timeline:
        charts.append(_timeline_charts(timeline))
    if charts:
        body += ['<section id="charts"><h2>Charts</h2>', *charts, "</section>"]
    if sweep is not None:
        best = sweep.best
        best_text = (
            f"best: {sweep.spec.dimension} {best.level:g} at {best.requests_per_s:.1f} req/s"
            if best
            else "no level met the SLO"
        )
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
        body += [
            f'<section id="sweep"><h2>Sweep {_e(sweep.spec.text)}: {_e(best_text)}</h2>',
            _sweep_chart(sweep),
            _table(
                "sweep-table",
                [sweep.spec.dimension, "req/s", "p50 ms", "p99 ms", "errors", "stable", "trials", "SLO"],
                rows,
            ),
            "</section>",
        ]
    if timeline:
        rows = [
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
        body += [
            '<section id="timeline"><h2>Per second</h2><details><summary>show the table</summary>',
            _table("timeline-table", ["second", "requests", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms"], rows),
            "</details></section>",
        ]
    title = f"bankscore-bench report: {info.method} {info.host}:{info.port}{redact_url(info.path)}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
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
