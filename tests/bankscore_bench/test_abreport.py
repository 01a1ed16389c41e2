"""ab's report, byte for byte: golden tests against real ab 2.3 captures and a run of the real `ab`.

What is exactly reproducible from which data (and so asserted exactly):
- Summary lines (Server Software .. Transfer rate) from counts, bytes and the run's time in µs. The captures
  print the time rounded to ms; the µs value used for each is the one that reproduces all its rate lines.
- From ab's -g TSV (per-request ms): min, max and (even n, strict) median of every row, the percentile
  table, and the TSV itself. Means and standard deviations need µs and are only checked to be close.
- From ab's -e CSV when n = 100: every total time in µs, so the whole Total row and the -e file itself.
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._abreport import (
    AbReportSettings,
    ConnectionTimes,
    RowStats,
    ab_round_ms,
    banner,
    benchmarking_line,
    connection_times,
    count_requests,
    csv_index,
    done_line,
    finished_line,
    format_connection_times,
    format_csv,
    format_gnuplot,
    format_percentiles,
    format_report,
    format_summary,
    heartbeat_interval,
    median_us,
    progress_line,
)
from bankscore_bench._samples import Failure, RequestSample, RunInfo, SampleLog

EPOCH_US = 1_795_794_252_000_000  # Fri Nov 27 15:44:12 2026 UTC, the second of capture 02

# Time taken (µs) of each capture: the only whole-µs value (or the first of a few) that reproduces all of
# the capture's printed rate lines (req/s, both time-per-request lines, transfer rates).
CAPTURE_TIME_US = {
    "01-get-n1000-c10": 707_232,
    "02-post-keepalive": 316_628,
    "02a-post-keepalive-nagle-artifact": 11_213_376,
    "03-non2xx": 79_951,
    "04-length-failures": 35_944,
    "05-variable-length-l": 36_104,
    "06-timelimit-t2": 2_000_004,
    "07-no-conf-no-perc-S-d": 279_845,
    "09-keepalive-against-http10-server": 167_762,
    "11-request-dump-v2": 3_669,
    "12-small-n": 9_267,
}


def _capture(ab_fixtures: Path, name: str) -> str:
    return (ab_fixtures / f"{name}.stdout.txt").read_text()


def _field(text: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}\s+(\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _spread(total: int, count: int) -> list[int]:
    """``count`` whole numbers summing to ``total`` (the remainder on the first)."""
    share, rest = divmod(total, count)
    return [share + rest] + [share] * (count - 1)


def _run_like_capture(text: str, name: str) -> tuple[RunInfo, SampleLog, AbReportSettings]:
    """A RunInfo and SampleLog with the capture's counts and bytes (timings are irrelevant to the summary)."""
    command = shlex.split(text.splitlines()[0][2:], comments=True)  # "$ ab ARGS   # note"
    options = parse_ab_args(command[1:])
    done = _field(text, "Complete requests:")
    length_failures = _field(text, "Failed requests:")
    keepalive = _field(text, "Keep-Alive requests:")
    non_2xx = _field(text, "Non-2xx responses:")
    read = _spread(_field(text, "Total transferred:"), done)
    html = _spread(_field(text, "HTML transferred:"), done)
    sent = _spread(_field(text, "Total body sent:"), done)
    log = SampleLog()
    for i in range(done):
        log.append(
            RequestSample(
                intended_us=EPOCH_US,
                start_us=EPOCH_US,
                connect_us=0,
                wait_us=500,
                total_us=1000,
                status=404 if i < non_2xx else 200,
                failure=Failure.LENGTH if i < length_failures else Failure.NONE,
                bytes_read=read[i],
                body_bytes=html[i],
                bytes_sent=sent[i],
                keepalive=i < keepalive,
            )
        )
    server = re.search(r"^Server Software:\s+(\S*)", text, re.MULTILINE)
    document = re.search(r"^Document Length:\s+(\d+) bytes", text, re.MULTILINE)
    target = options.target()
    assert target is not None
    info = RunInfo(
        url=options.url or "",
        host=target.host,
        port=target.port,
        path=target.path,
        method=options.method,
        concurrency=options.concurrency,
        started_us=EPOCH_US,
        ended_us=EPOCH_US + CAPTURE_TIME_US[name],
        server_software=server.group(1) if server else "",
        document_length=int(document.group(1)) if document else None,
        keepalive=options.keepalive,
        posted=options.body_file is not None,
    )
    return info, log, AbReportSettings.from_options(options)


@pytest.mark.parametrize("name", sorted(CAPTURE_TIME_US))
def test_summary_lines_equal_ab_captures(ab_fixtures: Path, name: str) -> None:
    text = _capture(ab_fixtures, name)
    info, log, settings = _run_like_capture(text, name)

    expected = text[text.index("\n\nServer Software:") : text.index("\nConnection Times")]
    assert format_summary(info, count_requests(log), settings) == expected


@pytest.mark.parametrize("name", ["01-get-n1000-c10", "12-small-n"])
def test_preamble_keeps_ab_line_structure_with_our_banner(ab_fixtures: Path, name: str) -> None:
    """Banner (4 lines), "Benchmarking ... (be patient)" with or without progress, then the summary."""
    text = _capture(ab_fixtures, name)
    info, log, settings = _run_like_capture(text, name)
    ab_banner = (ab_fixtures / "00-version.txt").read_text().split("\n", 1)[1]

    ours = (
        banner("9.9")
        + benchmarking_line(info.host, settings)
        + done_line(settings)
        + format_summary(info, count_requests(log), settings)
    )

    expected = text.split("\n", 1)[1]
    expected = expected[: expected.index("\nConnection Times")]
    assert ours.splitlines()[4:] == expected.splitlines()[4:]
    assert len(banner("9.9").splitlines()) == len(ab_banner.splitlines()) == 4
    assert banner("9.9").startswith("This is bankscore-bench, Version 9.9 (ab-compatible report)\n")
    assert "ApacheBench, Version" not in banner("9.9")  # it must not claim to be ab


def _parse_table(section: str, confidence: bool) -> ConnectionTimes:
    rows = {}
    for label in ("Connect", "Processing", "Waiting", "Total"):
        numbers = re.search(rf"^{label}:\s+(.*)$", section, re.MULTILINE)
        assert numbers is not None
        fields = numbers.group(1).split()
        if confidence:
            low, mean, sd, median, high = fields
            rows[label] = RowStats(int(low), int(mean), float(sd), int(median), int(high))
        else:
            low, mean, high = fields
            rows[label] = RowStats(int(low), int(mean), 0.0, 0, int(high))
    return ConnectionTimes(rows["Connect"], rows["Processing"], rows["Waiting"], rows["Total"])


@pytest.mark.parametrize("name", sorted(set(CAPTURE_TIME_US)))
def test_connection_times_table_and_warnings_format_like_ab(ab_fixtures: Path, name: str) -> None:
    """Widths, the -S variant (no space before max) and ab's WARNING/ERROR rule, from the capture's numbers."""
    text = _capture(ab_fixtures, name)
    section = text[text.index("\nConnection Times") :]
    if "\nPercentage" in section:
        section = section[: section.index("\nPercentage")]
    confidence = "mean[+/-sd]" in section

    assert format_connection_times(_parse_table(section, confidence), confidence=confidence) == section


def test_sanity_warnings_follow_ab_rule() -> None:
    steady = RowStats(0, 5, 1.0, 5, 9)
    warn = RowStats(0, 5, 1.0, 3, 9)  # |5 - 3| = 2 > sd, not > 2 sd
    error = RowStats(0, 5, 1.0, 2, 9)  # 3 > 2 sd

    text = format_connection_times(ConnectionTimes(steady, warn, error, steady))

    assert text.endswith(
        "WARNING: The median and mean for the processing time are not within a normal deviation\n"
        "        These results are probably not that reliable.\n"
        "ERROR: The median and mean for the waiting time are more than twice the standard\n"
        "       deviation apart. These results are NOT reliable.\n"
    )
    assert "WARNING" not in format_connection_times(ConnectionTimes(steady, warn, error, steady), confidence=False)


def _small_n_log(ab_fixtures: Path) -> tuple[SampleLog, list[str]]:
    """Capture 12 (n=10): its -e rows 0, 5, 15, ..., 85 are the ten total times, exact to the µs."""
    rows = (ab_fixtures / "12-small-n.csv").read_text().splitlines()
    totals = [round(float(rows[1 + i].split(",")[1]) * 1000) for i in (0, 5, 15, 25, 35, 45, 55, 65, 75, 85)]
    log = SampleLog()
    for total in totals:
        log.append(RequestSample(EPOCH_US, EPOCH_US, 0, total // 2, total, 200))
    return log, rows


def test_small_n_total_row_percentiles_and_csv_equal_ab(ab_fixtures: Path) -> None:
    log, csv_rows = _small_n_log(ab_fixtures)
    text = _capture(ab_fixtures, "12-small-n")
    times = connection_times(log, strict=True)
    assert times is not None

    ours = format_connection_times(times)
    total_line = next(line for line in ours.splitlines() if line.startswith("Total:"))
    assert total_line in text.splitlines()
    assert format_percentiles(sorted(log.total_us)) == text[text.index("\nPercentage") :]
    csv = format_csv(log)
    assert csv is not None
    lines = csv.splitlines()
    # Rows within ab's array are ab's exactly; rows 95-99 are where ab read past its array (0.257 is stale
    # heap memory), which cannot be reproduced: both modes print the last sample there.
    assert lines[:96] == csv_rows[:96]
    assert lines[101] == csv_rows[101]
    assert csv_rows[96:101] == [f"{i},0.257" for i in range(95, 100)]
    assert lines[96:101] == [f"{i},3.872" for i in range(95, 100)]


def _solve_connect(connect_ms: int, processing_ms: int, total_ms: int) -> tuple[int, int]:
    """µs connect and total times whose ab roundings give the -g file's ctime, dtime and ttime."""
    offset = processing_ms - (total_ms - connect_ms)  # what rounding did to the difference: -1, 0 or 1
    connect_shift, total_shift = {0: (0, 0), 1: (-500, 0), -1: (499, -2)}[offset]
    return connect_ms * 1000 + connect_shift, total_ms * 1000 + total_shift


def _log_from_gnuplot(tsv: str) -> SampleLog:
    log = SampleLog()
    for line in tsv.splitlines()[1:]:
        _, seconds, ctime, dtime, ttime, wait = line.split("\t")
        connect, total = _solve_connect(int(ctime), int(dtime), int(ttime))
        start = int(seconds) * 1_000_000
        log.append(RequestSample(start, start, connect, int(wait) * 1000, total, 200, keepalive=True))
    return log


@pytest.fixture
def ab_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ab's -g dates are local time; the captures were made in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("ab_utc")
def test_rebuilt_from_ab_gnuplot_file_reproduces_ab(ab_fixtures: Path) -> None:
    tsv = (ab_fixtures / "02-gnuplot.tsv").read_text()
    text = _capture(ab_fixtures, "02-post-keepalive")
    log = _log_from_gnuplot(tsv)

    ours = format_gnuplot(log)
    assert ours is not None
    # Same header and rows; ab's qsort leaves ties in an arbitrary order, ours keeps completion order.
    assert ours.splitlines()[0] == tsv.splitlines()[0]
    assert sorted(ours.splitlines()) == sorted(tsv.splitlines())
    totals = [int(line.split("\t")[4]) for line in ours.splitlines()[1:]]
    assert totals == sorted(totals)

    times = connection_times(log, strict=True)
    assert times is not None
    expected = _parse_table(text[text.index("\nConnection Times") :], confidence=True)
    for row, want in zip(
        (times.connect, times.processing, times.waiting, times.total),
        (expected.connect, expected.processing, expected.waiting, expected.total),
        strict=True,
    ):
        assert (row.min, row.median, row.max) == (want.min, want.median, want.max)  # n = 2000: even
        assert abs(row.mean - want.mean) <= 1
        assert abs(row.sd - want.sd) <= 0.2  # ms-rounded inputs blur the sd a little
    assert format_percentiles(sorted(log.total_us)) == text[text.index("\nPercentage") :]

    # ab's -e rows hold exact µs; ours come from ms-rounded totals: the same rank must round to the same ms.
    ab_rows = (ab_fixtures / "02-percentiles.csv").read_text().splitlines()
    csv = format_csv(log)
    assert csv is not None
    our_rows = csv.splitlines()
    assert our_rows[0] == ab_rows[0] == "Percentage served,Time in ms"
    for ours_row, ab_row in zip(our_rows[1:], ab_rows[1:], strict=True):
        assert ab_round_ms(round(float(ours_row.split(",")[1]) * 1000)) == ab_round_ms(
            round(float(ab_row.split(",")[1]) * 1000)
        ), ab_row


def _ab_run(url: str, tmp_path: Path, *args: str) -> tuple[str, str, str]:
    csv, tsv = tmp_path / "ab.csv", tmp_path / "ab.tsv"
    proc = subprocess.run(
        ["ab", *args, "-e", str(csv), "-g", str(tsv), url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, csv.read_text(), tsv.read_text()


def _log_from_ab_files(csv: str, tsv: str) -> SampleLog:
    """n = 100: the -e rows 0..99 are every total time in µs; -g gives the other columns in ms."""
    totals = [round(float(row.split(",")[1]) * 1000) for row in csv.splitlines()[1:101]]
    rows = [line.split("\t") for line in tsv.splitlines()[1:]]
    assert len(rows) == len(totals) == 100
    log = SampleLog()
    for total, (_, seconds, ctime, dtime, ttime, wait) in zip(totals, rows, strict=True):
        assert ab_round_ms(total) == int(ttime)
        # A connect time (µs) that rounds to ctime and leaves a processing time that rounds to dtime.
        low = max(int(ctime) * 1000 - 500, total - int(dtime) * 1000 - 499, 0)
        high = min(int(ctime) * 1000 + 499, total - int(dtime) * 1000 + 500, total)
        assert low <= high
        start = int(seconds) * 1_000_000
        log.append(RequestSample(start, start, low, int(wait) * 1000, total, 200, keepalive=True))
    return log


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("ab") is None, reason="ab is not installed (apt-get install apache2-utils)")
def test_real_ab_report_is_reproduced_from_its_own_samples(ab_server_url: str, tmp_path: Path) -> None:
    stdout, csv, tsv = _ab_run(f"{ab_server_url}/", tmp_path, "-n", "100", "-c", "2", "-k")
    log = _log_from_ab_files(csv, tsv)
    options = parse_ab_args(["-n", "100", "-c", "2", "-k", "--ab-strict", f"{ab_server_url}/"])
    settings = AbReportSettings.from_options(options)

    # Files: the -e CSV is exact (n > 50, so ab never reads past its array); -g up to the order of ties.
    assert format_csv(log) == csv
    ours_tsv = format_gnuplot(log)
    assert ours_tsv is not None
    assert sorted(ours_tsv.splitlines()) == sorted(tsv.splitlines())

    # Summary: ab's counts and bytes, and a time in µs that reproduces its rate lines.
    done = _field(stdout, "Complete requests:")
    assert done == 100
    for i, (read, html) in enumerate(
        zip(
            _spread(_field(stdout, "Total transferred:"), done),
            _spread(_field(stdout, "HTML transferred:"), done),
            strict=True,
        )
    ):
        log.bytes_read[i], log.body_bytes[i] = read, html
    server = re.search(r"^Server Software:\s+(\S*)", stdout, re.MULTILINE)
    assert server is not None
    target = options.target()
    assert target is not None
    taken_us = _time_matching(stdout, done)
    info = RunInfo(
        url=options.url or "",
        host=target.host,
        port=target.port,
        path=target.path,
        method="GET",
        concurrency=2,
        started_us=EPOCH_US,
        ended_us=EPOCH_US + taken_us,
        server_software=server.group(1),
        document_length=_field(stdout, "Document Length:"),
        keepalive=True,
    )
    ours = format_report(info, log, settings)
    expected = stdout[stdout.index("\n\nServer Software:") :]
    assert ours[: ours.index("\nConnection Times")] == expected[: expected.index("\nConnection Times")]
    assert ours[ours.index("\nPercentage") :] == expected[expected.index("\nPercentage") :]

    ours_lines = ours.splitlines()
    expected_lines = expected.splitlines()
    total = next(line for line in ours_lines if line.startswith("Total:"))
    assert total in expected_lines  # every total is exact in µs: the whole row is ab's
    ours_table = _parse_table(ours, confidence=True)
    ab_table = _parse_table(expected, confidence=True)
    for row, want in ((ours_table.connect, ab_table.connect), (ours_table.processing, ab_table.processing)):
        assert (row.min, row.median, row.max) == (want.min, want.median, want.max)
    assert (ours_table.waiting.min, ours_table.waiting.max) == (ab_table.waiting.min, ab_table.waiting.max)


def _time_matching(stdout: str, done: int) -> int:
    """The whole-µs run time that reproduces ab's printed "Time per request" (across) and req/s lines."""
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", stdout).group(1))  # type: ignore[union-attr]
    across = re.search(r"Time per request:\s+([\d.]+) \[ms\] \(mean, across", stdout).group(1)  # type: ignore[union-attr]
    centre = round(done / rps * 1e6)
    for taken_us in sorted(range(max(1, centre - 5000), centre + 5000), key=lambda t: abs(t - centre)):
        taken = taken_us / 1e6
        if f"{done / taken:.2f}" == f"{rps:.2f}" and f"{taken * 1000 / done:.3f}" == across:
            return taken_us
    raise AssertionError("no run time reproduces ab's rate lines")


# --- statistics against numpy ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 11, 100, 101, 999, 1000])
def test_median_and_percentiles_agree_with_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    values = [int(v) for v in rng.integers(0, 50_000, size=n)]
    ordered = np.sort(np.array(values))

    # Default median: numpy's, rounded half up to whole ms as ab rounds.
    assert median_us(values) == pytest.approx(float(np.median(ordered)))
    times = connection_times(_log_of(values))
    assert times is not None
    assert times.total.median == math.floor(float(np.median(ordered)) / 1000 + 0.5)

    # ab's percentile: the smallest sample that MORE than p% of the samples are <= to.
    for percent in (50, 66, 75, 80, 90, 95, 98, 99):
        rank = n * percent / 100
        expected = min(int(v) for v in ordered if np.count_nonzero(ordered <= v) > rank)
        assert int(ordered[n * percent // 100]) == expected
        if rank != int(rank):  # away from exact ranks this is numpy's inverted_cdf
            assert expected == int(np.quantile(ordered, percent / 100, method="inverted_cdf"))
    if n > 1:
        table = format_percentiles(ordered.tolist())
        assert f" 100%  {ab_round_ms(int(ordered[-1])):5d} (longest request)\n" in table

    # Standard deviation: the sample sd (n - 1) around ab's truncated integer mean.
    mean = sum(values) // n
    expected_sd = float(np.sqrt(np.sum((ordered - mean) ** 2) / (n - 1))) / 1000 if n > 1 else 0.0
    assert times.total.sd == pytest.approx(expected_sd, rel=1e-12)
    assert times.total.mean == ab_round_ms(mean)


def _log_of(totals: list[int]) -> SampleLog:
    log = SampleLog()
    for total in totals:
        log.append(RequestSample(EPOCH_US, EPOCH_US, 0, total, total, 200))
    return log


def test_strict_median_reproduces_ab_index_bug() -> None:
    odd = [1000, 2000, 30_000]
    even = [1000, 2000, 3000, 40_000]
    # ab: odd n > 1 averages the element above the middle with the next; even n takes the upper middle.
    assert median_us(odd, strict=True) == (2000 + 30_000) // 2
    assert median_us(even, strict=True) == 3000
    assert median_us(odd) == 2000
    assert median_us(even) == 2500
    assert median_us([7], strict=True) == median_us([7]) == 7
    strict = connection_times(_log_of(odd), strict=True)
    fixed = connection_times(_log_of(odd))
    assert strict is not None and fixed is not None
    assert (strict.total.median, fixed.total.median) == (16, 2)


def test_ab_round_ms_truncates_like_c() -> None:
    assert [ab_round_ms(us) for us in (0, 499, 500, 1499, 1500, -499, -500, -1501)] == [0, 0, 1, 1, 2, 0, 0, -1]


def test_csv_index_never_reads_past_the_end() -> None:
    for n in range(1, 120):
        indices = [csv_index(n, i) for i in range(101)]
        assert indices[0] == 0 and indices[100] == n - 1
        assert all(0 <= index < n for index in indices)
        assert indices == sorted(indices)
    assert csv_index(10, 94) == 9 and csv_index(1000, 50) == 500  # (int)(0.5 + n * i / 100.0)


# --- counting, conditional lines and progress --------------------------------------------------------------


def _failures_log() -> SampleLog:
    log = SampleLog()
    kinds = [Failure.NONE, Failure.NONE, Failure.CONNECT, Failure.RECEIVE, Failure.LENGTH]
    kinds += [Failure.EXCEPTION, Failure.BAD_BODY, Failure.BAD_BODY]
    for i, failure in enumerate(kinds):
        status = {Failure.CONNECT: 0, Failure.RECEIVE: 0, Failure.EXCEPTION: 0}.get(failure, 200)
        log.append(
            RequestSample(
                EPOCH_US,
                EPOCH_US,
                100,
                900,
                1000 + i,
                503 if i == 1 else status,
                failure,
                bytes_read=100,
                body_bytes=10,
                keepalive=True,
            )
        )
    return log


def _info(**changes: object) -> RunInfo:
    info = RunInfo("http://127.0.0.1:5001/score", "127.0.0.1", 5001, "/score", "GET", 1, EPOCH_US, EPOCH_US + 10_000)
    for name, value in changes.items():
        setattr(info, name, value)
    return info


def test_failures_are_counted_as_ab_does_and_bad_body_has_its_own_line() -> None:
    log = _failures_log()

    default = format_summary(_info(keepalive=True), count_requests(log), AbReportSettings())
    strict = format_summary(_info(keepalive=True), count_requests(log, strict=True), AbReportSettings(strict=True))

    for text in (default, strict):
        assert "Complete requests:      5\n" in text  # NONE x2, LENGTH, BAD_BODY x2: a response was read
        assert "Failed requests:        6\n" in text
        assert "Non-2xx responses:      1\n" in text  # rows without a status line are not Non-2xx
        assert "Keep-Alive requests:    5\n" in text
        assert "Total transferred:      800 bytes\n" in text
    assert "   (Connect: 1, Receive: 1, Length: 1, Exceptions: 1)\n" in default
    assert "   (Bad body: 2: 2xx responses that are not a scoring result)\n" in default
    assert "   (Connect: 1, Receive: 1, Length: 1, Exceptions: 3)\n" in strict
    assert "Bad body" not in strict


def test_report_without_completed_requests_stops_after_the_summary() -> None:
    log = SampleLog()
    log.append(RequestSample(EPOCH_US, EPOCH_US, 0, 0, 0, 0, Failure.CONNECT))

    text = format_report(_info(write_errors=2), log)

    assert "Complete requests:      0\n" in text
    assert "Write errors:           2\n" in text
    assert "Requests per second" not in text  # ab: only when time taken and done are both non-zero
    assert "Connection Times" not in text
    assert format_csv(log) is None and format_gnuplot(log) is None


def test_report_options_drop_confidence_and_percentiles() -> None:
    log = _log_of([1000, 2000, 3000, 4000])

    full = format_report(_info(), log)
    no_sd = format_report(_info(), log, AbReportSettings(confidence=False))
    no_percentiles = format_report(_info(), log, AbReportSettings(percentiles=False))
    single = format_report(_info(), _log_of([1000]))

    assert "mean[+/-sd]" in full and "\nPercentage of the requests" in full
    assert "              min   avg   max\n" in no_sd and "mean[+/-sd]" not in no_sd
    assert "Percentage" not in no_percentiles
    assert "Percentage" not in single  # ab omits the table when done <= 1
    assert "Document Length:        Variable\n" in format_report(_info(), log, AbReportSettings(variable_length=True))


@pytest.mark.parametrize(
    ("name", "requests"), [("01-get-n1000-c10", 1000), ("02-post-keepalive", 2000), ("06-timelimit-t2", 50_000)]
)
def test_progress_lines_equal_ab_stderr(ab_fixtures: Path, name: str, requests: int) -> None:
    stderr = (ab_fixtures / f"{name}.stderr.txt").read_text().splitlines(keepends=True)
    expected = [line for line in stderr if not line.startswith("exit=")]
    done = int(expected[-1].split()[1])
    heartbeat = heartbeat_interval(requests)

    lines = [line for count in range(1, done + 1) if (line := progress_line(count, heartbeat))]
    lines.append(finished_line(done, heartbeat) or "")

    assert lines == expected


def test_heartbeat_and_benchmarking_line_follow_ab() -> None:
    assert [heartbeat_interval(n) for n in (1, 150, 151, 999, 1000, 2000, 50_000)] == [0, 0, 100, 100, 100, 200, 5000]
    assert heartbeat_interval(1000, quiet=True) == 0
    assert finished_line(10, 0) is None and progress_line(100, 0) is None
    quiet = AbReportSettings.from_options(parse_ab_args(["-q", "-n", "1000", "http://127.0.0.1/"]))
    loud = AbReportSettings.from_options(parse_ab_args(["-n", "1000", "-X", "proxy:3128", "http://127.0.0.1/"]))
    assert benchmarking_line("127.0.0.1", quiet) + done_line(quiet) == "Benchmarking 127.0.0.1 (be patient).....done\n"
    assert benchmarking_line("127.0.0.1", loud) == "Benchmarking 127.0.0.1 [through proxy:3128] (be patient)\n"
    assert done_line(loud) == ""
