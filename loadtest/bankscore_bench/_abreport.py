"""ab's report, byte for byte, from a run's ``SampleLog``: stdout text, progress lines, ``-e`` CSV, ``-g`` TSV.

Every format string and formula is ab's (Apache httpd 2.4.x ``support/ab.c`` ``output_results()``):
whole-µs integer means, ``ap_round_ms(x) = (x + 500) / 1000`` with C's truncating division, the sample
standard deviation around that truncated mean, summed in completion order (so the float result is ab's to the
last bit), percentiles ``s[n * p / 100]`` of the totals sorted ascending.

Two of ab's results are bugs. By default this module prints the correct value; ``strict=True`` (the CLI's
``--ab-strict``) reproduces ab:

- Median. ab takes ``(s[n/2] + s[n/2 + 1]) / 2`` for odd n (the element above the middle, averaged with
  the one after it) and ``s[n/2]`` (the upper middle) for even n. Default: ``s[n//2]`` for odd n and the
  mean of the two middle elements, rounded half up to a ms, for even n (numpy's median).
- ``-e`` CSV rows. ab reads ``s[(int)(0.5 + n * i / 100)]``, past the end of its array for the top rows
  when n <= 50 (stale heap memory: capture 12-small-n.csv prints 0.257 ms above a 3.872 ms maximum).
  Both modes clamp that index to the last sample, because the memory ab reads cannot be reproduced;
  every row within the array is ab's exactly.

Which rows count: a request is *complete* (ab's ``done``: it is in the timing tables) when a response was
read, i.e. its failure is NONE, LENGTH or BAD_BODY. CONNECT, RECEIVE and EXCEPTION rows are failed and not
complete, as ab retries connects and drops broken reads. BAD_BODY (a 2xx that is not a scoring result) is
bankscore's own check: it counts in ``Failed requests``; ``--ab-strict`` files it under ab's
``Exceptions`` so the breakdown adds up in ab's format, the default mode prints it on its own line.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import operator
import time
from collections.abc import Sequence
from typing import Final

from bankscore_bench._aboptions import AbOptions
from bankscore_bench._samples import Failure, RunInfo, SampleLog

__all__ = [
    "PERCENTS",
    "AbCounts",
    "AbReportSettings",
    "ConnectionTimes",
    "RowStats",
    "ab_round_ms",
    "banner",
    "benchmarking_line",
    "completed_rows",
    "connection_times",
    "count_requests",
    "csv_index",
    "done_line",
    "finished_line",
    "format_connection_times",
    "format_csv",
    "format_gnuplot",
    "format_percentiles",
    "format_report",
    "format_summary",
    "heartbeat_interval",
    "median_us",
    "percentile_index",
    "progress_line",
]

PERCENTS: Final = (50, 66, 75, 80, 90, 95, 98, 99, 100)  # ab.c percs[]
_COMPLETE: Final = frozenset({Failure.NONE, Failure.LENGTH, Failure.BAD_BODY})
_DAYS: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # apr_ctime's names, never the locale's
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclasses.dataclass(frozen=True, slots=True)
class AbReportSettings:
    """The options that change ab's report: -S, -d, -l, -X, -q/-n (progress) and --ab-strict."""

    confidence: bool = True  # False with -S: "min avg max" table, no sanity warnings
    percentiles: bool = True  # False with -d
    variable_length: bool = False  # -l: "Document Length: Variable"
    strict: bool = False  # --ab-strict: ab's median and failure breakdown
    proxy: tuple[str, int] | None = None  # -X, for the "Benchmarking" line
    heartbeat: int = 0  # "Completed N requests" every this many; 0 = "..." and "..done"

    @classmethod
    def from_options(cls, options: AbOptions) -> AbReportSettings:
        return cls(
            confidence=options.confidence,
            percentiles=options.percentiles,
            variable_length=options.variable_length,
            strict=options.ab_strict,
            proxy=options.proxy,
            heartbeat=heartbeat_interval(options.requests, quiet=options.quiet),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class RowStats:
    """One row of ab's "Connection Times (ms)" table, as printed: whole ms except sd."""

    min: int
    mean: int
    sd: float
    median: int
    max: int


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionTimes:
    connect: RowStats
    processing: RowStats
    waiting: RowStats
    total: RowStats


@dataclasses.dataclass(frozen=True, slots=True)
class AbCounts:
    """ab's request counters and byte totals for one run."""

    complete: int  # ab's done
    failed: int  # ab's bad: every row whose failure is not NONE
    connect: int
    receive: int
    length: int
    exceptions: int  # EXCEPTION rows (plus BAD_BODY in strict mode)
    bad_body: int  # BAD_BODY rows; printed on its own line outside strict mode
    non_2xx: int  # rows with a status line whose status is not 2xx
    keepalive: int  # complete rows whose connection was kept alive
    total_read: int
    html_read: int
    total_sent: int


def ab_round_ms(us: int) -> int:
    """ab's ``ap_round_ms``: ``(us + 500) / 1000`` with C's division, which truncates toward zero."""
    return _c_div(us + 500, 1000)


def _c_div(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def completed_rows(log: SampleLog) -> list[int]:
    """Indices (in completion order) of the rows ab counts as done and puts in its timing tables."""
    return [i for i, code in enumerate(log.failure) if code in _COMPLETE]


def _completed_column(log: SampleLog, column: str, rows: list[int]) -> list[int]:
    values: Sequence[int] = getattr(log, column)
    if len(rows) == len(values):  # the usual case: every request completed
        return list(values)
    return [values[i] for i in rows]


def count_requests(log: SampleLog, *, strict: bool = False) -> AbCounts:
    """ab's counters: Complete, Failed and its breakdown, Non-2xx, Keep-Alive and the byte totals."""
    tally = collections.Counter(log.failure)
    by_kind = {kind: tally.get(int(kind), 0) for kind in Failure}
    complete = sum(by_kind[kind] for kind in _COMPLETE)
    bad_body = by_kind[Failure.BAD_BODY]
    keepalive = sum(1 for code, kept in zip(log.failure, log.keepalive, strict=True) if kept and code in _COMPLETE)
    return AbCounts(
        complete=complete,
        failed=len(log) - by_kind[Failure.NONE],
        connect=by_kind[Failure.CONNECT],
        receive=by_kind[Failure.RECEIVE],
        length=by_kind[Failure.LENGTH],
        exceptions=by_kind[Failure.EXCEPTION] + (bad_body if strict else 0),
        bad_body=bad_body,
        non_2xx=sum(1 for status in log.status if status and not 200 <= status < 300),
        keepalive=keepalive,
        total_read=sum(log.bytes_read),
        html_read=sum(log.body_bytes),
        total_sent=sum(log.bytes_sent),
    )


def median_us(values: Sequence[int], *, strict: bool = False) -> float:
    """Median of ``values`` (µs). Default: the true median. ``strict``: ab's index rule (see module doc)."""
    return _median_of_sorted(sorted(values), strict=strict)


def _median_of_sorted(ordered: Sequence[int], *, strict: bool) -> float:
    n = len(ordered)
    middle = n // 2
    if strict:
        if n > 1 and n % 2:
            return _c_div(ordered[middle] + ordered[middle + 1], 2)
        return ordered[middle]
    if n % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _median_ms(ordered: Sequence[int], *, strict: bool) -> int:
    """The median column in whole ms, from ascending µs values (integer arithmetic throughout)."""
    n = len(ordered)
    middle = n // 2
    if strict or n % 2:
        return ab_round_ms(int(_median_of_sorted(ordered, strict=strict)))
    # Even n: the exact mean of the two middle values, rounded half up to a ms, as ab_round_ms rounds.
    return (ordered[middle - 1] + ordered[middle] + 1000) // 2000


def _row(values: Sequence[int], *, strict: bool) -> RowStats:
    """One table row, computed exactly as ab does (values in completion order, µs)."""
    n = len(values)
    mean = _c_div(sum(values), n)
    # ab: a = (double)x - mean; sum += a * a, in completion order. x - mean is exact in integers (and as a
    # double below 2**53); reduce() adds strictly left to right at C speed, where sum() of floats would
    # compensate rounding on Python >= 3.12 and so differ from ab in the last bits.
    deviations = [float(value - mean) for value in values]
    squares = functools.reduce(operator.add, map(operator.mul, deviations, deviations), 0.0)
    sd = math.sqrt(squares / (n - 1)) if n > 1 else 0.0
    ordered = sorted(values)
    return RowStats(
        min=ab_round_ms(ordered[0]),
        mean=ab_round_ms(mean),
        sd=sd / 1000.0,
        median=_median_ms(ordered, strict=strict),
        max=ab_round_ms(ordered[-1]),
    )


def connection_times(log: SampleLog, *, strict: bool = False) -> ConnectionTimes | None:
    """The four rows of ab's table over the complete requests; None when no request completed."""
    rows = completed_rows(log)
    if not rows:
        return None
    connect = _completed_column(log, "connect_us", rows)
    total = _completed_column(log, "total_us", rows)
    return ConnectionTimes(
        connect=_row(connect, strict=strict),
        processing=_row(list(map(operator.sub, total, connect)), strict=strict),
        waiting=_row(_completed_column(log, "wait_us", rows), strict=strict),
        total=_row(total, strict=strict),
    )


def _sanity_warnings(times: ConnectionTimes) -> str:
    """ab's SANE() check per row: |mean - median| against one and two standard deviations (in ms)."""
    text = []
    for what, row in (
        ("the initial connection time", times.connect),
        ("the processing time", times.processing),
        ("the waiting time", times.waiting),
        ("the total time", times.total),
    ):
        distance = abs(float(row.mean) - row.median)
        if distance > 2 * row.sd:
            text.append(
                f"ERROR: The median and mean for {what} are more than twice the standard\n"
                "       deviation apart. These results are NOT reliable.\n"
            )
        elif distance > row.sd:
            text.append(
                f"WARNING: The median and mean for {what} are not within a normal deviation\n"
                "        These results are probably not that reliable.\n"
            )
    return "".join(text)


def format_connection_times(times: ConnectionTimes, *, confidence: bool = True) -> str:
    """ "Connection Times (ms)" and its table; with ``confidence`` (no -S) also sd, median and warnings."""
    labelled = (
        ("Connect:    ", times.connect),
        ("Processing: ", times.processing),
        ("Waiting:    ", times.waiting),
        ("Total:      ", times.total),
    )
    lines = ["\nConnection Times (ms)\n"]
    if confidence:
        lines.append("              min  mean[+/-sd] median   max\n")
        lines.extend(f"{label}{r.min:5d} {r.mean:4d} {r.sd:5.1f} {r.median:6d} {r.max:7d}\n" for label, r in labelled)
        lines.append(_sanity_warnings(times))
    else:
        # ab's "%5d %5d%5d": no space between avg and max (capture 07).
        lines.append("              min   avg   max\n")
        lines.extend(f"{label}{r.min:5d} {r.mean:5d}{r.max:5d}\n" for label, r in labelled)
    return "".join(lines)


def percentile_index(n: int, percent: int) -> int:
    """ab's stdout percentile: index ``n * p / 100`` (floor) into the ascending totals."""
    return n * percent // 100


def format_percentiles(totals_sorted: Sequence[int]) -> str:
    """ "Percentage of the requests served within a certain time (ms)" from ascending total times (µs)."""
    n = len(totals_sorted)
    lines = ["\nPercentage of the requests served within a certain time (ms)\n"]
    for percent in PERCENTS:
        if percent >= 100:
            lines.append(f" 100%  {ab_round_ms(totals_sorted[n - 1]):5d} (longest request)\n")
        else:
            lines.append(f"  {percent}%  {ab_round_ms(totals_sorted[percentile_index(n, percent)]):5d}\n")
    return "".join(lines)


def format_summary(info: RunInfo, counts: AbCounts, settings: AbReportSettings) -> str:
    """From ab's two blank lines after "Benchmarking" down to the transfer rates."""
    out = ["\n\n"]
    out.append(f"Server Software:        {info.server_software}\n")
    out.append(f"Server Hostname:        {info.host}\n")
    out.append(f"Server Port:            {info.port}\n")
    for label, key in (
        ("SSL/TLS Protocol:       ", "tls_protocol"),
        ("Server Temp Key:        ", "tls_temp_key"),
        ("TLS Server Name:        ", "tls_server_name"),
    ):
        if key in info.extra:  # https only: the engine records what the TLS handshake agreed
            out.append(f"{label}{info.extra[key]}\n")
    out.append("\n")
    out.append(f"Document Path:          {info.path}\n")
    if settings.variable_length:
        out.append("Document Length:        Variable\n")
    else:
        out.append(f"Document Length:        {info.document_length or 0} bytes\n")
    out.append("\n")
    out.append(f"Concurrency Level:      {info.concurrency}\n")
    taken = info.time_taken_s  # ab: (lasttime - start) / APR_USEC_PER_SEC
    out.append(f"Time taken for tests:   {taken:.3f} seconds\n")
    out.append(f"Complete requests:      {counts.complete}\n")
    out.append(f"Failed requests:        {counts.failed}\n")
    if counts.failed:
        out.append(
            f"   (Connect: {counts.connect}, Receive: {counts.receive}, Length: {counts.length}, "
            f"Exceptions: {counts.exceptions})\n"
        )
        if counts.bad_body and not settings.strict:
            out.append(f"   (Bad body: {counts.bad_body}: 2xx responses that are not a scoring result)\n")
    if info.write_errors:
        out.append(f"Write errors:           {info.write_errors}\n")
    if counts.non_2xx:
        out.append(f"Non-2xx responses:      {counts.non_2xx}\n")
    if info.keepalive:
        out.append(f"Keep-Alive requests:    {counts.keepalive}\n")
    out.append(f"Total transferred:      {counts.total_read} bytes\n")
    if info.posted:
        out.append(f"Total body sent:        {counts.total_sent}\n")
    out.append(f"HTML transferred:       {counts.html_read} bytes\n")
    done = counts.complete
    if taken and done:
        out.append(f"Requests per second:    {done / taken:.2f} [#/sec] (mean)\n")
        out.append(f"Time per request:       {info.concurrency * taken * 1000 / done:.3f} [ms] (mean)\n")
        out.append(f"Time per request:       {taken * 1000 / done:.3f} [ms] (mean, across all concurrent requests)\n")
        out.append(f"Transfer rate:          {counts.total_read / 1024 / taken:.2f} [Kbytes/sec] received\n")
        if info.posted:
            out.append(f"                        {counts.total_sent / 1024 / taken:.2f} kb/s sent\n")
            out.append(
                f"                        {(counts.total_read + counts.total_sent) / 1024 / taken:.2f} kb/s total\n"
            )
    return "".join(out)


def format_report(info: RunInfo, log: SampleLog, settings: AbReportSettings | None = None) -> str:
    """ab's stdout after the "Benchmarking" line: summary, Connection Times, percentiles."""
    settings = settings or AbReportSettings()
    text = format_summary(info, count_requests(log, strict=settings.strict), settings)
    times = connection_times(log, strict=settings.strict)
    if times is None:
        return text
    text += format_connection_times(times, confidence=settings.confidence)
    totals = sorted(_completed_column(log, "total_us", completed_rows(log)))
    if settings.percentiles and len(totals) > 1:
        text += format_percentiles(totals)
    return text


def csv_index(n: int, percent: int) -> int:
    """Row ``percent`` of ab's -e file: min, max, else ``(int)(0.5 + n * percent / 100.0)``, kept in range.

    ab reads past its array when this index reaches n (n <= 50); that memory cannot be reproduced, so the
    index is clamped to the last sample in both modes (there is no strict variant).
    """
    if percent <= 0:
        return 0
    if percent >= 100:
        return n - 1
    return min(int(0.5 + n * percent / 100.0), n - 1)


def format_csv(log: SampleLog) -> str | None:
    """ab's -e file text: 101 rows "percent,ms" with µs precision; None when no request completed."""
    totals = sorted(_completed_column(log, "total_us", completed_rows(log)))
    if not totals:
        return None  # ab writes no file then
    lines = ["Percentage served,Time in ms\n"]
    n = len(totals)
    lines.extend(f"{i},{totals[csv_index(n, i)] / 1000.0:.3f}\n" for i in range(101))
    return "".join(lines)


def _apr_ctime(epoch_us: int) -> str:
    """apr_ctime(): "Fri Nov 27 15:43:51 2026" in local time, zero-padded day, English names."""
    t = time.localtime(epoch_us // 1_000_000)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


def format_gnuplot(log: SampleLog) -> str | None:
    """ab's -g file text: one row per complete request, sorted by total time as ab leaves its array."""
    rows = completed_rows(log)
    if not rows:
        return None
    rows.sort(key=log.total_us.__getitem__)  # stable: ties keep completion order
    lines = ["starttime\tseconds\tctime\tdtime\tttime\twait\n"]
    dates: dict[int, str] = {}  # one localtime() per second of the run, not per request
    for i in rows:
        start, connect, total = log.start_us[i], log.connect_us[i], log.total_us[i]
        second = start // 1_000_000
        date = dates.get(second)
        if date is None:
            date = dates[second] = _apr_ctime(start)
        lines.append(
            f"{date}\t{second}\t{ab_round_ms(connect)}\t"
            f"{ab_round_ms(total - connect)}\t{ab_round_ms(total)}\t{ab_round_ms(log.wait_us[i])}\n"
        )
    return "".join(lines)


def banner(version: str | None = None) -> str:
    """ab's four banner lines, naming bankscore-bench (it is not ApacheBench) and ab's report format."""
    if version is None:
        from bankscore._version import __version__ as version
    return (
        f"This is bankscore-bench, Version {version} (ab-compatible report)\n"
        "Report format of ApacheBench 2.3, Copyright 1996 Adam Twiss, Zeus Technology Ltd\n"
        "Load generated with Locust, https://locust.io/\n"
        "\n"
    )


def benchmarking_line(host: str, settings: AbReportSettings) -> str:
    """ "Benchmarking HOST (be patient)", then a newline when progress lines follow, else "..."."""
    via = f"[through {settings.proxy[0]}:{settings.proxy[1]}] " if settings.proxy else ""
    return f"Benchmarking {host} {via}(be patient)" + ("\n" if settings.heartbeat else "...")


def done_line(settings: AbReportSettings) -> str:
    """ab's line after the run: "..done" on stdout without progress lines (with them, see finished_line)."""
    return "" if settings.heartbeat else "..done\n"


def heartbeat_interval(requests: int, *, quiet: bool = False) -> int:
    """ab's heartbeatres: progress every max(100, n/10) requests when n > 150 and not -q; else 0."""
    if quiet or requests <= 150:
        return 0
    return max(100, requests // 10)


def progress_line(done: int, heartbeat: int) -> str | None:
    """The stderr line ab prints after ``done`` completions, if this count is on the heartbeat."""
    if heartbeat and done and done % heartbeat == 0:
        return f"Completed {done} requests\n"
    return None


def finished_line(done: int, heartbeat: int) -> str | None:
    """ab's last stderr line ("Finished N requests"), printed only when progress lines were."""
    return f"Finished {done} requests\n" if heartbeat else None
