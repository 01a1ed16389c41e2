"""Every request of a run, at full resolution: the one data structure all of bankscore-bench shares.

The load generator appends one row per request; the ab report, the exact statistics, the HTML/JSON/CSV
reports, the sweep and the distributed merge all read the same columns. Columns are ``array('q')`` of
integers (microseconds, bytes, codes) so a million requests cost about 90 MB at most, appending is cheap
inside the gevent loop, and a worker can ship its log to the master as raw bytes with nothing rounded
(Locust's own stats round response times to about two significant digits).

Times are microseconds. ``start_us`` and ``intended_us`` are wall-clock epoch microseconds (ab's ``-g`` file
prints the start as a date); durations are measured with a monotonic clock and stored as differences.
"""

from __future__ import annotations

import dataclasses
import enum
from array import array
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

__all__ = ["COLUMNS", "Failure", "RequestSample", "RunInfo", "SampleLog"]


class Failure(enum.IntEnum):
    """Why a request counts in ab's ``Failed requests`` (ab.c: err_conn, err_recv, err_length, err_except)."""

    NONE = 0
    CONNECT = 1  # connect() failed or timed out
    RECEIVE = 2  # the connection broke or timed out while reading the response
    LENGTH = 3  # body length differs from the first good response's (unless -l)
    EXCEPTION = 4  # anything else that stopped the request (ab: POLLERR/POLLNVAL)
    BAD_BODY = 5  # 2xx whose body is not a scoring result of the expected shape (bankscore's check)


# Column name -> meaning. Order is the serialization order.
COLUMNS: Final[Mapping[str, str]] = {
    "intended_us": "epoch µs at which the request was scheduled (== start_us in closed loop)",
    "start_us": "epoch µs at which the request actually started (connect, or write on a kept-alive socket)",
    "connect_us": "µs spent connecting (0 on a kept-alive connection, as ab)",
    "wait_us": "µs from the request fully written to the first response byte (ab's Waiting)",
    "total_us": "µs from start to the last response byte (ab's Total); Processing = total - connect",
    "status": "HTTP status code, 0 when no status line was read",
    "failure": "Failure code; NONE for a request that completed",
    "bytes_read": "bytes received, headers and body (ab's Total transferred)",
    "body_bytes": "response body bytes (ab's HTML transferred)",
    "bytes_sent": "request bytes written, headers and body (ab's Total body sent)",
    "keepalive": "1 when the response allowed the connection to be kept alive (ab's Keep-Alive requests)",
    "records": "records scored by the request (batch size; 0 for a fixed -p payload of unknown size)",
}


@dataclasses.dataclass(frozen=True, slots=True)
class RequestSample:
    """One request, as the load generator measured it."""

    intended_us: int
    start_us: int
    connect_us: int
    wait_us: int
    total_us: int
    status: int
    failure: Failure = Failure.NONE
    bytes_read: int = 0
    body_bytes: int = 0
    bytes_sent: int = 0
    keepalive: bool = False
    records: int = 0

    @property
    def processing_us(self) -> int:
        return self.total_us - self.connect_us

    @property
    def corrected_total_us(self) -> int:
        """Latency from the scheduled send time: what the user of an open-loop service waited."""
        return self.start_us - self.intended_us + self.total_us


class SampleLog:
    """Columnar, append-only log of ``RequestSample`` rows."""

    __slots__ = tuple(COLUMNS)

    intended_us: array[int]
    start_us: array[int]
    connect_us: array[int]
    wait_us: array[int]
    total_us: array[int]
    status: array[int]
    failure: array[int]
    bytes_read: array[int]
    body_bytes: array[int]
    bytes_sent: array[int]
    keepalive: array[int]
    records: array[int]

    def __init__(self) -> None:
        for name in COLUMNS:
            setattr(self, name, array("q"))

    def __len__(self) -> int:
        return len(self.total_us)

    def append(self, sample: RequestSample) -> None:
        self.intended_us.append(sample.intended_us)
        self.start_us.append(sample.start_us)
        self.connect_us.append(sample.connect_us)
        self.wait_us.append(sample.wait_us)
        self.total_us.append(sample.total_us)
        self.status.append(sample.status)
        self.failure.append(int(sample.failure))
        self.bytes_read.append(sample.bytes_read)
        self.body_bytes.append(sample.body_bytes)
        self.bytes_sent.append(sample.bytes_sent)
        self.keepalive.append(1 if sample.keepalive else 0)
        self.records.append(sample.records)

    def extend(self, other: SampleLog) -> None:
        """Append every row of ``other`` (the distributed merge: nothing is rounded or resampled)."""
        for name in COLUMNS:
            getattr(self, name).extend(getattr(other, name))

    def __getitem__(self, index: int) -> RequestSample:
        return RequestSample(
            intended_us=self.intended_us[index],
            start_us=self.start_us[index],
            connect_us=self.connect_us[index],
            wait_us=self.wait_us[index],
            total_us=self.total_us[index],
            status=self.status[index],
            failure=Failure(self.failure[index]),
            bytes_read=self.bytes_read[index],
            body_bytes=self.body_bytes[index],
            bytes_sent=self.bytes_sent[index],
            keepalive=bool(self.keepalive[index]),
            records=self.records[index],
        )

    def __iter__(self) -> Iterator[RequestSample]:
        return (self[i] for i in range(len(self)))

    @classmethod
    def of(cls, samples: Iterable[RequestSample]) -> SampleLog:
        log = cls()
        for sample in samples:
            log.append(sample)
        return log

    def to_columns(self) -> dict[str, bytes]:
        """Raw bytes per column, for shipping from a worker to the master (msgpack carries bytes as is)."""
        return {name: getattr(self, name).tobytes() for name in COLUMNS}

    @classmethod
    def from_columns(cls, columns: Mapping[str, bytes]) -> SampleLog:
        log = cls()
        lengths = set()
        for name in COLUMNS:
            column: array[int] = getattr(log, name)
            column.frombytes(columns[name])
            lengths.add(len(column))
        if len(lengths) > 1:
            raise ValueError(f"sample columns have different lengths: {sorted(lengths)}")
        return log


@dataclasses.dataclass(slots=True)
class RunInfo:
    """What a report needs besides the samples: the target, the load shape and the run's clock."""

    url: str
    host: str
    port: int
    path: str
    method: str  # GET, POST, PUT, HEAD
    concurrency: int
    started_us: int  # epoch µs when the first request was started (ab's `start`)
    ended_us: int  # epoch µs of the last completion (ab's `lasttime`); Time taken = ended - started
    server_software: str = ""  # first response's Server header, cut at the first char <= 0x20 as ab does
    document_length: int | None = None  # body bytes of the first good response; None = "Variable" (-l)
    keepalive: bool = False  # -k given
    posted: bool = False  # -p or -u given (adds "Total body sent" and the kb/s sent/total lines)
    write_errors: int = 0
    rate: float | None = None  # open loop: requests/s scheduled; None = closed loop
    arrivals: str = "closed"  # closed | constant | poisson
    late: int = 0  # open loop: requests sent later than scheduled by more than the lateness bound
    dropped: int = 0  # open loop: scheduled requests never sent (no free user, or the run ended)
    interrupted: bool = False  # Ctrl-C or the time limit cut the run short
    generator_cpu_percent: float | None = None  # load generator's own CPU use (100 = one core)
    extra: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def time_taken_s(self) -> float:
        return (self.ended_us - self.started_us) / 1e6
