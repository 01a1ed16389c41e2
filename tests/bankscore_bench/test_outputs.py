"""Reports: JSON round trip and keys, CSV columns and order, console text, and the HTML page in real Chromium."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from bankscore_bench._html import percentile_curve, render_html, report_html, write_html
from bankscore_bench._outputs import (
    JSON_SCHEMA,
    REQUEST_CSV_COLUMNS,
    SWEEP_CSV_COLUMNS,
    TIMELINE_CSV_COLUMNS,
    redact_url,
    render_summary_text,
    render_sweep_point,
    render_sweep_text,
    render_timeline_text,
    report_dict,
    write_json,
    write_requests_csv,
    write_sweep_csv,
    write_timeline_csv,
)
from bankscore_bench._samples import COLUMNS, Failure
from bankscore_bench._stats import summarize, timeline
from bankscore_bench._sweep import parse_sweep, run_sweep
from bankscore_bench._thresholds import evaluate, parse_thresholds

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "sk-test-7f3a9c"  # must never appear in any output


def _open_loop_run(stats_synthetic_run, **info):
    """3 s at 200 req/s with a 0.5 s generator stall, seven 503s and one connect failure."""
    count = 600
    intended = [i * 5_000 for i in range(count)]
    start = [1_500_000 if 1_000_000 <= t < 1_500_000 else t for t in intended]
    statuses = [503 if i % 97 == 0 else 200 for i in range(count)]
    failures = [Failure.CONNECT if i == 5 else Failure.NONE for i in range(count)]
    statuses[5] = 0
    totals = [800 + (i * 37) % 400 for i in range(count)]
    return stats_synthetic_run(
        totals, start_us=start, intended_us=intended, status=statuses, failure=failures, rate=200.0, **info
    )


def _sweep(stats_synthetic_run):
    def level_run(level: float):
        latency = int(1_000 * (1 + (level / 400) ** 2))
        starts = [int(i * 1e6 / level) for i in range(int(level * 3))]
        return stats_synthetic_run([latency] * len(starts), start_us=starts, rate=float(level))

    return run_sweep(parse_sweep("rate=100:500:100"), level_run, parse_thresholds("p99<2ms"))


@pytest.fixture
def full_report(stats_synthetic_run):
    info, log = _open_loop_run(
        stats_synthetic_run,
        url=f"http://bench:{SECRET}@127.0.0.1:5001/score?code={SECRET}&version=3",
        generator_cpu_percent=96.5,
        extra={"Authorization": f"Bearer {SECRET}", "api_key": SECRET, "payload": "bank.csv"},
    )
    summary = summarize(info, log)
    seconds = timeline(info, log)
    results = evaluate(parse_thresholds("p(95)<200,errors<=1%,rps>=100"), summary)
    sweep = _sweep(stats_synthetic_run)
    return info, log, summary, seconds, results, sweep


def test_json_round_trips_with_stable_keys_and_no_secret(full_report, tmp_path: Path) -> None:
    info, _, summary, seconds, results, sweep = full_report
    path = tmp_path / "run.json"
    report = report_dict(info, summary, timeline=seconds, thresholds=results, sweep=sweep)
    write_json(path, report)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text
    loaded = json.loads(text)
    assert loaded == report
    assert list(loaded) == ["schema", "tool", "run", "summary", "timeline", "thresholds", "thresholds_passed", "sweep"]
    assert loaded["schema"] == JSON_SCHEMA
    assert loaded["run"]["url"] == "http://127.0.0.1:5001/score?code=REDACTED&version=3"
    assert loaded["run"]["extra"] == {"payload": "bank.csv"}
    s = loaded["summary"]
    assert (s["requests"], s["ok"], s["errors"], s["failed"]) == (600, 592, 8, {"connect": 1})
    assert s["non_2xx"] == {"503": 7}
    assert s["headline"] == "corrected"
    corrected = s["latency"]["corrected"]
    assert list(corrected["percentiles_us"]) == [
        "p50",
        "p66",
        "p75",
        "p80",
        "p90",
        "p95",
        "p98",
        "p99",
        "p99.9",
        "p99.99",
    ]
    assert corrected["percentiles_us"]["p99"] == summary.corrected_latency.percentiles_us["p99"]
    assert corrected["max_us"] > 400_000 > s["latency"]["uncorrected"]["max_us"]  # the stall shows corrected only
    assert {"percentile", "requests", "min_requests", "valid", "bound_us"} == set(corrected["validity"][0])
    assert list(loaded["timeline"][0]) == list(TIMELINE_CSV_COLUMNS)
    assert sum(row["requests"] for row in loaded["timeline"]) == 600
    assert [t["passed"] for t in loaded["thresholds"]] == [False, False, True]
    assert loaded["thresholds_passed"] is False
    assert loaded["sweep"]["best_level"] == 300
    assert [p["level"] for p in loaded["sweep"]["points"]] == [100, 200, 300, 400]
    assert list(loaded["sweep"]["points"][0]) == list(SWEEP_CSV_COLUMNS)


def test_a_closed_loop_report_without_extras_has_nulls_not_missing_keys(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([1_000, 2_000])
    report = report_dict(info, summarize(info, log))
    assert report["summary"]["latency"]["corrected"] is None
    assert (report["thresholds"], report["thresholds_passed"], report["sweep"]) == ([], None, None)
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:5001/score", "http://127.0.0.1:5001/score"),
        ("http://user:pw@127.0.0.1/score", "http://127.0.0.1/score"),
        (
            "https://x.azurewebsites.net/api/score?code=abc&v=2",
            "https://x.azurewebsites.net/api/score?code=REDACTED&v=2",
        ),
        ("http://h/s?api-key=abc&subscription-key=def", "http://h/s?api-key=REDACTED&subscription-key=REDACTED"),
        ("http://h/s?sig=abc&access_token=def", "http://h/s?sig=REDACTED&access_token=REDACTED"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_request_csv_has_every_column_in_start_order(stats_synthetic_run, tmp_path: Path) -> None:
    # Rows appended out of order, as a distributed merge appends worker after worker.
    info, log = stats_synthetic_run(
        [300, 100, 200],
        start_us=[2_000, 0, 1_000],
        intended_us=[1_500, 0, 1_000],
        failure=[Failure.NONE, Failure.LENGTH, Failure.NONE],
    )
    path = tmp_path / "requests.csv"
    write_requests_csv(path, log)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == REQUEST_CSV_COLUMNS
    assert set(COLUMNS) < set(REQUEST_CSV_COLUMNS)
    assert [int(r["start_us"]) - info.started_us for r in rows] == [0, 1_000, 2_000]
    assert [r["failure"] for r in rows] == ["length", "none", "none"]
    assert [int(r["total_us"]) for r in rows] == [100, 200, 300]
    assert [int(r["corrected_total_us"]) for r in rows] == [100, 200, 800]  # sent 500 µs late
    assert [int(r["processing_us"]) for r in rows] == [100, 200, 300]


def test_timeline_and_sweep_csv(full_report, tmp_path: Path) -> None:
    _, _, _, seconds, _, sweep = full_report
    write_timeline_csv(tmp_path / "timeline.csv", seconds)
    write_sweep_csv(tmp_path / "sweep.csv", sweep)
    with (tmp_path / "timeline.csv").open(newline="", encoding="utf-8") as handle:
        timeline_rows = list(csv.DictReader(handle))
    with (tmp_path / "sweep.csv").open(newline="", encoding="utf-8") as handle:
        sweep_rows = list(csv.DictReader(handle))
    assert tuple(timeline_rows[0]) == TIMELINE_CSV_COLUMNS
    assert [int(r["requests"]) for r in timeline_rows] == [s.requests for s in seconds]
    assert tuple(sweep_rows[0]) == SWEEP_CSV_COLUMNS
    assert [float(r["level"]) for r in sweep_rows] == [100, 200, 300, 400]
    assert [r["slo_ok"] for r in sweep_rows] == ["True", "True", "True", "False"]


def test_summary_text_shows_exact_percentiles_corrected_view_and_thresholds(full_report) -> None:
    _, _, summary, _, results, _ = full_report
    text = render_summary_text(summary, thresholds=results, generator_cpu_percent=96.5)
    assert text.startswith("bankscore-bench summary\n")
    assert "requests 600  ok 592  errors 8 = 1.33% (connect 1, HTTP 503 x7)" in text
    uncorrected = summary.uncorrected_latency
    assert f"p99.99 {uncorrected.percentiles_us['p99.99'] / 1000:.3f}" in text
    assert "corrected latency (ms, from the scheduled send" in text
    assert "records " in text and "open loop: late 0  dropped 0" in text
    assert "p99 claim at 99% confidence: <= " in text and "VALID" in text
    assert "WARNING: the load generator used 96% CPU" in text
    assert "thresholds (latency of successful requests only): FAILED" in text
    assert "    FAIL  errors<=1%" in text and "actual 1.33%" in text
    assert "    pass  rps>=100" in text


def test_summary_text_says_when_a_run_is_too_short_for_a_p99_claim(stats_synthetic_run) -> None:
    info, log = stats_synthetic_run([1_000] * 100)
    text = render_summary_text(summarize(info, log))
    assert "p99 claim at 99% confidence: INVALID (needs >= 459 requests, ran 100)" in text
    assert "corrected" not in text and "WARNING" not in text


def test_timeline_text_has_a_line_per_second(full_report) -> None:
    seconds = full_report[3]
    lines = render_timeline_text(seconds).splitlines()
    assert lines[0].split() == ["second", "requests", "req/s", "errors", "p50", "ms", "p95", "ms", "p99", "ms"]
    assert len(lines) == 1 + len(seconds)
    assert lines[2].split()[:2] == ["1", str(seconds[1].requests)]


def test_sweep_text_lists_the_curve_and_the_answer(full_report) -> None:
    sweep = full_report[5]
    lines = render_sweep_text(sweep).splitlines()
    assert lines[0] == "bankscore-bench sweep rate=100,200,300,400,500  SLO p99<2ms"
    assert [line.split()[0] for line in lines[2:6]] == ["100", "200", "300", "400"]
    assert lines[5].split()[-1] == "missed"
    assert lines[-1].startswith("best: rate 300 at 300.")
    progress = render_sweep_point(sweep.points[0], "rate")
    assert progress.startswith("rate 100: 100.") and progress.endswith("stable  SLO met")


def test_percentile_curve_uses_the_hdrhistogram_axis() -> None:
    values = np.arange(1, 1001, dtype=np.int64)
    curve = percentile_curve(values, points_per_decade=1)
    assert [x for x, _ in curve] == [0, 1, 2, 3, 3]
    assert [v for _, v in curve] == [1, 900, 990, 999, 1000]  # p0+, p90, p99, p99.9, then the maximum
    assert percentile_curve(np.array([], dtype=np.int64)) == []


class _DomIndex(HTMLParser):
    """Ids, tag counts, and every URL-bearing attribute of a page."""

    URL_ATTRIBUTES = frozenset({"src", "href", "xlink:href", "action", "poster", "srcset", "data"})

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.tags: dict[str, int] = {}
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] = tag
            if name in self.URL_ATTRIBUTES and value:
                self.urls.append(value)


_CHROMIUM_FLAGS = (
    "--headless",
    "--disable-gpu",
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # belt and braces: nothing could resolve anyway
)


def _open_in_chromium(page: Path, tmp_path: Path) -> tuple[_DomIndex, list[str]]:
    """Load ``page`` in real headless Chromium: (its rendered DOM, URLs the page itself asked the network for)."""
    net_log = tmp_path / "netlog.json"
    completed = subprocess.run(
        [
            str(CHROMIUM),
            *_CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--log-net-log={net_log}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    dom = _DomIndex()
    dom.feed(completed.stdout)
    events = json.loads(net_log.read_text(encoding="utf-8"))["events"]
    # Chromium's own housekeeping (update checks, accounts) has no origin; the page's requests come from file://.
    page_requests = [
        event["params"]["url"]
        for event in events
        if "url" in event.get("params", {}) and event["params"].get("initiator", "not an origin") != "not an origin"
    ]
    return dom, page_requests


pytestmark_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="/usr/bin/chromium is missing (dev.sh installs it: apt-get install chromium)",
)


@pytest.mark.slow
@pytestmark_chromium
def test_html_report_renders_in_chromium_with_charts_tables_and_no_network(full_report, tmp_path: Path) -> None:
    info, log, summary, seconds, results, sweep = full_report
    page = tmp_path / "report.html"
    write_html(page, report_html(info, log, summary, timeline=seconds, thresholds=results, sweep=sweep))
    assert SECRET not in page.read_text(encoding="utf-8")
    dom, requests = _open_in_chromium(page, tmp_path)
    for chart in ("chart-percentiles", "chart-latency-over-time", "chart-throughput", "chart-sweep"):
        assert dom.ids.get(chart) == "svg", chart
    for table in (
        "summary-table",
        "latency-table",
        "validity-table",
        "thresholds-table",
        "sweep-table",
        "timeline-table",
    ):
        assert dom.ids.get(table) == "table", table
    assert dom.tags.get("polyline", 0) >= 9  # 2 percentile views + 3 latency + 2 throughput + 2 sweep lines
    assert dom.tags.get("script", 0) == 0
    assert not [url for url in dom.urls if "//" in url or url.startswith(("http:", "https:"))]
    assert requests == []


@pytest.mark.slow
@pytestmark_chromium
def test_the_chromium_check_catches_a_page_that_loads_from_the_network(tmp_path: Path) -> None:
    # The control for the test above: the same check must see a page's outgoing request.
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.invalid/pixel.png"></body></html>', encoding="utf-8")
    dom, requests = _open_in_chromium(page, tmp_path)
    assert requests == ["http://example.invalid/pixel.png"]
    assert dom.urls == ["http://example.invalid/pixel.png"]


def test_html_escapes_everything_from_the_run(stats_synthetic_run) -> None:
    hostile = "<script>alert(1)</script>"
    info, log = stats_synthetic_run(
        [1_000, 2_000], url=f"http://127.0.0.1:5001/{hostile}", path=f"/{hostile}", server_software=hostile
    )
    summary = summarize(info, log)
    results = evaluate(parse_thresholds("p99<1"), summary)
    page = render_html(info, summary, thresholds=results)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page or "%3Cscript%3E" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_per_second_charts_tick_whole_seconds(stats_synthetic_run) -> None:
    import re

    info, log = stats_synthetic_run([1_000] * 4, start_us=[0, 400_000, 1_100_000, 1_600_000])
    summary = summarize(info, log)
    page = render_html(info, summary, timeline=timeline(info, log))
    chart = page[page.index('id="chart-throughput"') :]
    chart = chart[: chart.index("</svg>")]
    ticks = [label for label in re.findall(r'text-anchor="middle">([^<]*)</text>', chart) if label[0].isdigit()]
    assert ticks == ["0", "1"]  # no "0.2" ticks between whole seconds


def test_summary_text_leaves_out_records_when_none_were_sent(stats_synthetic_run) -> None:
    plain = render_summary_text(summarize(*stats_synthetic_run([1_000] * 10, records=0)))  # -p file or GET
    scored = render_summary_text(summarize(*stats_synthetic_run([1_000] * 10, records=3)))
    assert "records" not in plain
    assert "records " in scored
    info, _ = stats_synthetic_run([1_000] * 10, records=0)
    assert "Records scored" not in render_html(info, summarize(*stats_synthetic_run([1_000] * 10, records=0)))
    assert "Records scored" in render_html(info, summarize(*stats_synthetic_run([1_000] * 10, records=3)))
