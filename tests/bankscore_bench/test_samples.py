"""The shared sample log: rows survive append, merge and the worker-to-master byte round trip unchanged."""

from __future__ import annotations

import random

import pytest

from bankscore_bench._samples import COLUMNS, Failure, RequestSample, RunInfo, SampleLog


def _random_sample(rng: random.Random) -> RequestSample:
    start = 1_700_000_000_000_000 + rng.randrange(10**9)
    return RequestSample(
        intended_us=start - rng.randrange(0, 5_000),
        start_us=start,
        connect_us=rng.randrange(0, 300),
        wait_us=rng.randrange(100, 50_000),
        total_us=rng.randrange(50_000, 2_000_000),
        status=rng.choice([200, 200, 404, 503, 0]),
        failure=rng.choice(list(Failure)),
        bytes_read=rng.randrange(10**6),
        body_bytes=rng.randrange(10**5),
        bytes_sent=rng.randrange(10**5),
        keepalive=rng.random() < 0.5,
        records=rng.randrange(0, 1_000),
    )


def test_rows_round_trip_through_column_bytes() -> None:
    rng = random.Random(7)
    samples = [_random_sample(rng) for _ in range(1_000)]
    log = SampleLog.of(samples)
    shipped = SampleLog.from_columns(log.to_columns())
    assert list(shipped) == samples
    assert set(log.to_columns()) == set(COLUMNS)


def test_extend_keeps_every_row_of_both_logs_in_order() -> None:
    rng = random.Random(8)
    first = [_random_sample(rng) for _ in range(10)]
    second = [_random_sample(rng) for _ in range(7)]
    merged = SampleLog.of(first)
    merged.extend(SampleLog.of(second))
    assert len(merged) == 17
    assert list(merged) == first + second


def test_columns_of_different_lengths_are_refused() -> None:
    columns = SampleLog.of([_random_sample(random.Random(1))]).to_columns()
    columns["status"] = b""
    with pytest.raises(ValueError, match="different lengths"):
        SampleLog.from_columns(columns)


def test_derived_times() -> None:
    sample = RequestSample(intended_us=1_000, start_us=1_500, connect_us=30, wait_us=200, total_us=400, status=200)
    assert sample.processing_us == 370
    assert sample.corrected_total_us == 900
    info = RunInfo(
        url="http://127.0.0.1:5001/score", host="127.0.0.1", port=5001, path="/score", method="POST",
        concurrency=1, started_us=0, ended_us=1_234_567,
    )  # fmt: skip
    assert info.time_taken_s == pytest.approx(1.234567)
