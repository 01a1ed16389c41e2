"""The comparison for a person: a terminal summary and a self-contained HTML page.

The page follows ``bankscore-bench``'s report: inline CSS and inline SVG charts, no script, no network (a
Content-Security-Policy forbids every fetch), every piece of text escaped. Charts: P(yes) of A against B, the
histogram of ``p_b - p_a``, and both sides' latency distributions.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

from bankscore._compare._result import CompareResult, Gate

__all__ = ["render_html", "render_text"]

_W, _H, _L, _R, _T, _B = 420, 320, 56, 16, 16, 44
_BLUE: Final = "#2b7bb9"
_ORANGE: Final = "#e08a1e"
_MAX_POINTS: Final = 3000  # a scatter of more points says no more and bloats the page


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    """A p-value: small ones in scientific notation rather than as 0.0000."""
    if value is None:
        return "-"
    return f"{value:.2g}" if 0 < value < 0.001 else f"{value:.4f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _gate_line(gate: Gate) -> str:
    state = "passed" if gate.passed else "FAILED"
    value = _f(gate.value) if gate.value is not None else gate.detail
    return f"{state}  {gate.name}: {value} (limit {gate.limit:g})"


def _rows(result: CompareResult) -> list[tuple[str, str, str]]:
    a, b = result.a, result.b
    return [
        ("side", a.name, b.name),
        ("wire generation", a.generation, b.generation),
        ("AUC", _f(a.auc), _f(b.auc)),
        ("accuracy", _f(a.accuracy), _f(b.accuracy)),
        ("latency p50 ms", _ms(a.latency_ms.p50), _ms(b.latency_ms.p50)),
        ("latency p90 ms", _ms(a.latency_ms.p90), _ms(b.latency_ms.p90)),
        ("latency p99 ms", _ms(a.latency_ms.p99), _ms(b.latency_ms.p99)),
        ("requests", str(a.latency_ms.requests), str(b.latency_ms.requests)),
        ("records not scored", str(a.errors), str(b.errors)),
    ]


def render_text(result: CompareResult) -> str:
    """The summary ``bankscore compare`` prints."""
    low, high = result.agreement_ci
    lines = [f"compared {result.n:,} of {result.records:,} records" + (" (interrupted)" if result.interrupted else "")]
    if result.agreement is not None:
        lines.append(f"label agreement  {result.agreement:.4f}  (95% CI {low:.4f}-{high:.4f}, Wilson)")
    width = max(len(r[1]) for r in _rows(result)) + 2
    lines.append("")
    for name, va, vb in _rows(result):
        lines.append(f"  {name:<20}{va:>{width}}  {vb}")
    if result.crosstab:
        labels = sorted({x for row in result.crosstab.values() for x in row} | set(result.crosstab))
        lines += ["", "  labels: A (rows) x B (columns)", "  " + " " * 10 + "".join(f"{x:>10}" for x in labels)]
        for la in labels:
            cells = "".join(f"{result.crosstab.get(la, {}).get(lb, 0):>10,}" for lb in labels)
            lines.append(f"  {la:<10}{cells}")
    d = result.delta_p
    if d is not None:
        lines += [
            "",
            f"  |p_b - p_a| over {d.n:,} records: p50 {_f(d.p50)}  p90 {_f(d.p90)}  p99 {_f(d.p99)}  max {_f(d.max)}",
            f"  moved by more than 0.05: {d.over_0_05:.2%}   by more than 0.10: {d.over_0_10:.2%}",
        ]
    p = result.paired
    if p is not None:
        lines += ["", f"  on {p.labelled:,} labelled records (B - A):"]
        if p.auc_diff is not None and p.auc_diff_ci is not None:
            lo, hi = p.auc_diff_ci
            lines.append(f"    AUC diff {p.auc_diff:+.4f} (95% CI {lo:+.4f} to {hi:+.4f}), DeLong p = {_p(p.auc_p)}")
        lines.append(
            f"    accuracy diff {p.accuracy_diff:+.4f}, McNemar p = {_p(p.mcnemar_p)} "
            f"(right by A only {p.right_by_a_only:,}, by B only {p.right_by_b_only:,})"
        )
    if result.hotspots:
        lines += ["", "  where they disagree most (feature value: disagreements / records):"]
        for h in result.hotspots:
            lines.append(f"    {h.feature} = {h.value}: {h.disagreements:,} / {h.count:,} ({h.rate:.1%})")
    for side in (result.a, result.b):
        for reason in side.failures:
            lines.append(f"  not scored by {side.name}: {reason}")
    if result.gates:
        lines += [""] + [f"  {_gate_line(g)}" for g in result.gates]
    return "\n".join(lines) + "\n"


# --- HTML ------------------------------------------------------------------------------------------------


def _axis(x0: float, x1: float, y0: float, y1: float, x_label: str, y_label: str) -> list[str]:
    pw, ph = _W - _L - _R, _H - _T - _B
    out = [f'<rect x="{_L}" y="{_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for i in range(6):
        fx = x0 + (x1 - x0) * i / 5
        fy = y0 + (y1 - y0) * i / 5
        px = _L + pw * i / 5
        py = _T + ph - ph * i / 5
        out.append(f'<text x="{px:.1f}" y="{_T + ph + 16}" text-anchor="middle">{fx:.3g}</text>')
        out.append(f'<text x="{_L - 6}" y="{py + 4:.1f}" text-anchor="end">{fy:.3g}</text>')
    out.append(f'<text x="{_L + pw / 2}" y="{_H - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    out.append(
        f'<text x="14" y="{_T + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {_T + ph / 2})">'
        f"{html.escape(y_label)}</text>"
    )
    return out


def _svg(title: str, body: list[str]) -> str:
    return (
        f'<figure><figcaption>{html.escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{_W}" height="{_H}" role="img" aria-label="{html.escape(title)}">' + "".join(body) + "</svg></figure>"
    )


def _scatter(p_a: npt.NDArray[np.float64], p_b: npt.NDArray[np.float64]) -> str:
    keep = ~np.isnan(p_a) & ~np.isnan(p_b)
    xs, ys = p_a[keep], p_b[keep]
    if xs.size > _MAX_POINTS:  # evenly spaced records: deterministic, and the same ones on every run
        pick = np.linspace(0, xs.size - 1, _MAX_POINTS).astype(np.int64)
        xs, ys = xs[pick], ys[pick]
    pw, ph = _W - _L - _R, _H - _T - _B
    body = _axis(0, 1, 0, 1, "P(yes) A", "P(yes) B")
    body.append(f'<line x1="{_L}" y1="{_T + ph}" x2="{_L + pw}" y2="{_T}" stroke="#bbb" stroke-dasharray="4"/>')
    body += [
        f'<circle cx="{_L + x * pw:.1f}" cy="{_T + ph - y * ph:.1f}" r="1.6" fill="{_BLUE}" fill-opacity="0.5"/>'
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True)
    ]
    return _svg(f"P(yes): A against B ({xs.size:,} records shown)", body)


def _bars(title: str, values: npt.NDArray[np.float64], x_label: str, bins: int = 40) -> str:
    if values.size == 0:
        return ""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    top = max(int(counts.max()), 1)
    pw, ph = _W - _L - _R, _H - _T - _B
    body = _axis(low, high, 0, top, x_label, "records")
    step = pw / bins
    for i, count in enumerate(counts.tolist()):
        h = ph * count / top
        tip = f"{edges[i]:.4g} to {edges[i + 1]:.4g}: {count:,}"
        body.append(
            f'<rect x="{_L + i * step:.1f}" y="{_T + ph - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}" '
            f'fill="{_BLUE}"><title>{html.escape(tip)}</title></rect>'
        )
    return _svg(title, body)


def _cdf(title: str, series: Sequence[tuple[str, str, npt.NDArray[np.float64]]]) -> str:
    present = [s for s in series if s[2].size]
    if not present:
        return ""
    high = max(float(np.max(v)) for _, _, v in present) or 1.0
    pw, ph = _W - _L - _R, _H - _T - _B
    body = _axis(0, high, 0, 1, "latency (ms)", "share of requests at or below")
    for k, (name, color, values) in enumerate(present):
        ordered = np.sort(values)
        steps = np.linspace(0, ordered.size - 1, min(ordered.size, 400)).astype(np.int64)
        points = " ".join(
            f"{_L + ordered[i] / high * pw:.1f},{_T + ph - (i + 1) / ordered.size * ph:.1f}" for i in steps.tolist()
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        body.append(
            f'<text x="{_L + pw - 8}" y="{_T + ph - 12 - 14 * k}" text-anchor="end" fill="{color}">'
            f"{html.escape(name)}</text>"
        )
    return _svg(title, body)


def _table(rows: Sequence[Sequence[str]], head: bool = True) -> str:
    out = ["<table>"]
    for i, row in enumerate(rows):
        tag = "th" if head and i == 0 else "td"
        out.append("<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row) + "</tr>")
    return "".join(out) + "</table>"


_CSS: Final = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
    "figure{display:inline-block;margin:8px}svg text{font-size:11px}.failed{color:#c0392b;font-weight:bold}"
    "pre{background:#f7f7f7;padding:8px}"
)


def render_html(result: CompareResult) -> str:
    """One self-contained page: the figures, the tables and the plots."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">',
        f"<title>bankscore compare: {html.escape(result.a.name)} vs {html.escape(result.b.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(result.a.name)} (A) vs {html.escape(result.b.name)} (B)</h1>",
    ]
    for gate in result.gates:
        cls = "" if gate.passed else " class='failed'"
        parts.append(f"<p{cls}>{html.escape(_gate_line(gate))}</p>")
    parts.append(f"<pre>{html.escape(render_text(result))}</pre>")
    parts.append(_table([("", "A", "B"), *_rows(result)[1:]]))
    if result.hotspots:
        parts.append("<h2>Where they disagree most</h2>")
        parts.append(
            _table(
                [("feature", "value", "records", "disagreements", "rate")]
                + [
                    (h.feature, h.value, f"{h.count:,}", f"{h.disagreements:,}", f"{h.rate:.1%}")
                    for h in result.hotspots
                ]
            )
        )
    s = result.samples
    if s is not None:
        parts.append("<h2>Plots</h2>")
        if (~np.isnan(s.p_a) & ~np.isnan(s.p_b)).any():
            parts.append(_scatter(s.p_a, s.p_b))
            delta = s.p_b - s.p_a
            parts.append(_bars("p_b - p_a", delta[~np.isnan(delta)], "p_b - p_a"))
        parts.append(
            _cdf(
                "latency per batch request",
                [(f"A {result.a.name}", _BLUE, s.latency_a_ms), (f"B {result.b.name}", _ORANGE, s.latency_b_ms)],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)
