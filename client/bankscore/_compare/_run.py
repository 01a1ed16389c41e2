"""Score every record once on each side, the two sides side by side, and keep only compact arrays.

The records are read in chunks of one batch. Each chunk is one *pair*: the batch is sent to side A and to
side B at the same time (A from the pair's thread, B from a second pool), so load, caches and the time of day
affect both alike. At most ``concurrency`` pairs are in flight (so at most ``concurrency`` requests per side)
and, with ``rate``, at most ``rate`` pairs start per second. Each side's batch goes through the client's
``predict_many`` (its retries, body-size splitting and error handling); a pair's latency per side is the time
that call took. Only a few chunks are held at a time; per record the run keeps P(yes), the label code of
each side and the true label: about 21 bytes.
"""

from __future__ import annotations

import csv
import math
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

from bankscore._client import Client
from bankscore._compare._concentration import Concentration
from bankscore._compare._source import Chunk
from bankscore._exceptions import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
)
from bankscore._records import RecordCodec, Rows
from bankscore._results import ScoreResult

__all__ = ["Collected", "Sides", "run_pairs"]

# A batch failing with these fails every batch alike (wrong key, wrong URI or deployment): stop the comparison.
_FATAL: Final = (AuthenticationError, PermissionDeniedError, NotFoundError)
_POSITIVE: Final = frozenset({"yes", "1", "true", "1.0"})
_NEGATIVE: Final = frozenset({"no", "0", "false", "0.0"})
_MAX_REASONS: Final = 5


@dataclass
class Sides:
    """The two clients and how a chunk's rows become each side's records."""

    a: Client[Any]
    b: Client[Any]
    codec_a: RecordCodec[Any]
    codec_b: RecordCodec[Any]
    drop_a: frozenset[str]  # columns not sent to A (the label, columns its record lacks)
    drop_b: frozenset[str]
    label: str | None


@dataclass
class Collected:
    """Per record: P(yes) on each side (NaN: none), label codes (-1: not scored), the truth (-1: unknown)."""

    p_a: array[float] = field(default_factory=lambda: array("d"))
    p_b: array[float] = field(default_factory=lambda: array("d"))
    label_a: array[int] = field(default_factory=lambda: array("h"))
    label_b: array[int] = field(default_factory=lambda: array("h"))
    truth: array[int] = field(default_factory=lambda: array("b"))
    latency_a: array[float] = field(default_factory=lambda: array("d"))
    latency_b: array[float] = field(default_factory=lambda: array("d"))
    errors_a: int = 0
    errors_b: int = 0
    reasons_a: list[str] = field(default_factory=list)
    reasons_b: list[str] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=lambda: {"no": 0, "yes": 1})
    interrupted: bool = False


class _Disagreements:
    """The records the sides label differently, as CSV rows written in input order as pairs complete."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._header: list[str] | None = None
        self._pending: dict[int, list[tuple[Any, ...]]] = {}
        self._ends: dict[int, int] = {}  # chunk offset -> the next chunk's offset
        self._next = 0

    def expect(self, chunk: Chunk) -> None:
        self._ends[chunk.offset] = chunk.offset + len(chunk.rows)

    def add(self, chunk: Chunk, rows: list[tuple[Any, ...]], columns: list[str]) -> None:
        if self._header is None:
            self._header = ["index", "line", "label_a", "label_b", "p_a", "p_b", *columns]
            self._writer.writerow(self._header)
        self._pending[chunk.offset] = rows
        while self._next in self._pending:
            written = self._pending.pop(self._next)
            self._writer.writerows(written)
            self._next = self._ends.pop(self._next)


def run_pairs(
    sides: Sides,
    chunks: Iterator[Chunk],
    *,
    concurrency: int,
    rate: float | None,
    concentration: Concentration | None,
    disagreements: Path | None,
    progress: Callable[[int], None] | None,
) -> Collected:
    """Score every chunk on both sides; Ctrl-C returns what was compared, marked ``interrupted``."""
    stream = disagreements.open("w", newline="", encoding="utf-8") if disagreements is not None else None
    try:
        run = _PairRun(sides, concurrency, rate, concentration, _Disagreements(stream) if stream else None, progress)
        return run.run(chunks)
    finally:
        if stream is not None:
            stream.close()


class _PairRun:
    def __init__(
        self,
        sides: Sides,
        concurrency: int,
        rate: float | None,
        concentration: Concentration | None,
        writer: _Disagreements | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.sides = sides
        self.out = Collected()
        self.concentration = concentration
        self.writer = writer
        self.progress = progress
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.fatal: list[BaseException] = []
        self.in_flight = threading.BoundedSemaphore(concurrency)
        self.pace = _Pacer(rate)
        self.done = 0
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bankscore-compare-a")
        self.pool_b = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bankscore-compare-b")

    def run(self, chunks: Iterator[Chunk]) -> Collected:
        out = self.out
        futures: list[Future[None]] = []
        try:
            for chunk in chunks:
                self.in_flight.acquire()
                if self.stop.is_set():
                    self.in_flight.release()
                    break
                self._reserve(chunk)
                futures = [f for f in futures if not f.done()]
                futures.append(self.pool.submit(self._pair, chunk))
            for future in futures:
                future.result()
        except KeyboardInterrupt:
            self.stop.set()
            with self.lock:
                out.interrupted = True
        finally:
            self.pool.shutdown(wait=not out.interrupted, cancel_futures=True)
            self.pool_b.shutdown(wait=not out.interrupted, cancel_futures=True)
        if self.fatal and not out.interrupted:
            raise self.fatal[0]
        return out

    def _reserve(self, chunk: Chunk) -> None:
        """Slots for the chunk's records, filled when its pair completes (in any order)."""
        size = len(chunk.rows)
        out = self.out
        with self.lock:
            out.p_a.extend(array("d", [float("nan")]) * size)
            out.p_b.extend(array("d", [float("nan")]) * size)
            out.label_a.extend(array("h", [-1]) * size)
            out.label_b.extend(array("h", [-1]) * size)
            out.truth.extend(array("b", [-1]) * size)
            if self.writer is not None:
                self.writer.expect(chunk)

    def _pair(self, chunk: Chunk) -> None:
        sides = self.sides
        try:
            if self.stop.is_set():
                return
            records_a = _records(sides.codec_a, chunk, sides.drop_a)
            same = sides.codec_b is sides.codec_a and sides.drop_b == sides.drop_a
            records_b = records_a if same else _records(sides.codec_b, chunk, sides.drop_b)
            self.pace.wait()
            future_b = self.pool_b.submit(_timed, sides.b, records_b)
            result_a, ms_a = _timed(sides.a, records_a)
            result_b, ms_b = future_b.result()
            self._collect(chunk, (result_a, ms_a), (result_b, ms_b))
        except BaseException as exc:  # a validation error, or a bug: stop sending and surface it
            with self.lock:
                self.fatal.append(exc)
            self.stop.set()
        finally:
            self.in_flight.release()

    def _collect(self, chunk: Chunk, a: tuple[ScoreResult, float], b: tuple[ScoreResult, float]) -> None:
        label = self.sides.label
        truth = array("b", (_truth(row.get(label)) if label else -1 for row in chunk.rows))
        out = self.out
        with self.lock:
            if out.interrupted:
                return  # the caller already holds the result
            codes_a, codes_b = _codes(a[0], out.labels), _codes(b[0], out.labels)
            start, stop = chunk.offset, chunk.offset + len(chunk.rows)
            out.p_a[start:stop] = _probabilities(a[0])
            out.p_b[start:stop] = _probabilities(b[0])
            out.label_a[start:stop] = codes_a
            out.label_b[start:stop] = codes_b
            out.truth[start:stop] = truth
            out.errors_a += self._side(a, out.latency_a, out.reasons_a)
            out.errors_b += self._side(b, out.latency_b, out.reasons_b)
            both = [x >= 0 and y >= 0 for x, y in zip(codes_a, codes_b, strict=True)]
            differ = [ok and x != y for ok, x, y in zip(both, codes_a, codes_b, strict=True)]
            if self.concentration is not None:
                kept = [i for i, ok in enumerate(both) if ok]
                self.concentration.add([chunk.rows[i] for i in kept], [differ[i] for i in kept])
            if self.writer is not None:
                self._write(chunk, codes_a, codes_b, differ)
            self.done += len(chunk.rows)
            done = self.done
        if self.progress is not None:
            self.progress(done)

    def _side(self, scored: tuple[ScoreResult, float], latency: array[float], reasons: list[str]) -> int:
        """Record one side's latency and failures for a chunk; the number of records it did not score."""
        result, ms = scored
        if result.scored_count:
            latency.append(ms)
        for failure in result.failures:
            if len(reasons) < _MAX_REASONS:
                reasons.append(str(failure.reason))
            if isinstance(failure.error, _FATAL):
                self.fatal.append(failure.error)
                self.stop.set()
        return len(result) - result.scored_count

    def _write(self, chunk: Chunk, codes_a: array[int], codes_b: array[int], differ: list[bool]) -> None:
        assert self.writer is not None
        names = {code: name for name, code in self.out.labels.items()} | {-1: ""}
        columns = list(chunk.rows[0])
        rows = [
            (
                chunk.offset + i,
                chunk.lines[i] if chunk.lines else "",
                names[codes_a[i]],
                names[codes_b[i]],
                _text(self.out.p_a[chunk.offset + i]),
                _text(self.out.p_b[chunk.offset + i]),
                *(row.get(c, "") for c in columns),
            )
            for i, row in enumerate(chunk.rows)
            if differ[i]
        ]
        self.writer.add(chunk, rows, columns)


def _timed(client: Client[Any], records: list[Any]) -> tuple[ScoreResult, float]:
    started = time.perf_counter()
    result = client.predict_many(records, batch_size=len(records), concurrency=1, raise_on_error=False)
    return result, (time.perf_counter() - started) * 1000


def _records(codec: RecordCodec[Any], chunk: Chunk, drop: frozenset[str]) -> list[Any]:
    rows = [{k: v for k, v in row.items() if k not in drop} for row in chunk.rows]
    return codec.validate(Rows(rows, chunk.lines))


def _truth(value: Any) -> int:
    text = str(value).strip().lower() if value is not None else ""
    return 1 if text in _POSITIVE else 0 if text in _NEGATIVE else -1


def _codes(result: ScoreResult, table: dict[str, int]) -> array[int]:
    codes = array("h")
    for prediction in result.predictions:
        if prediction is None:
            codes.append(-1)
        else:
            codes.append(table.setdefault(prediction.label, len(table)))
    return codes


def _probabilities(result: ScoreResult) -> array[float]:
    nan = float("nan")
    return array(
        "d", (p.probability if p is not None and p.probability is not None else nan for p in result.predictions)
    )


def _text(value: float) -> str:
    return "" if math.isnan(value) else repr(value)  # NaN: no probability


class _Pacer:
    """At most ``rate`` starts per second, evenly spaced (a start that is late is not made up by a burst)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            time.sleep(slot - now)
