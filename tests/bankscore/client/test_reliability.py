"""Reliability: a fault-injecting proxy between the client and a real local deployment.

10,000 shipped records go through ``predict_many`` while the proxy answers 503s, 429s with ``Retry-After``,
drops connections half-way through a request or before the answer, and cuts answers short. Every prediction
must come back exactly once, in input order, identical to the fault-free run. When a batch fails on every
attempt, the error names its records and every other record is still returned.
"""

from __future__ import annotations

from typing import Any

import pytest

from bankscore import Client, PartialResultError
from bankscore.data import load_training_data

from ._fault_proxy import FAULTS, RETRY_AFTER_SECONDS, FaultProxy

RECORDS = 10_000
BATCH = 100
SEED = 20261127  # any seed works; this one is fixed so a failure can be replayed exactly


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """The first 10,000 shipped records (wire names, typed values, no label)."""
    found: list[dict[str, Any]] = []
    for record in load_training_data().records():
        found.append(record)
        if len(found) == RECORDS:
            return found
    raise AssertionError("the shipped data has fewer than 10,000 rows")


@pytest.fixture(scope="module")
def fault_free(live: Any, records: list[dict[str, Any]]) -> list[Any]:
    """The deployment's predictions for the records with nothing in the way."""
    with Client(live["client-c"].scoring_uri, generation="C") as client:
        result = client.predict_many(records, batch_size=BATCH, concurrency=4)
    assert result.ok and len(result) == RECORDS
    return list(result.predictions)


def upstream(live: Any) -> str:
    return f"http://127.0.0.1:{live['client-c'].port}"


@pytest.mark.slow
def test_every_prediction_exactly_once_through_faults(
    live: Any, records: list[dict[str, Any]], fault_free: list[Any], no_sleep: list[float]
) -> None:
    # The default retry policy (3 retries) is exactly enough for the proxy's worst batch (3 faults).
    proxy = FaultProxy(upstream(live), seed=SEED, max_faults=3)
    with proxy, Client(proxy.url + "/score", generation="C") as client:
        result = client.predict_many(records, batch_size=BATCH, concurrency=4)

    assert result.ok and result.failures == []
    assert len(result) == RECORDS
    assert result.predictions == fault_free  # every record, in input order, the same answer

    # The run really met every kind of fault, and the server really scored some batches twice or more (their
    # answers were lost on the way), yet each record has one answer.
    assert set(proxy.injected) == set(FAULTS), proxy.injected
    assert proxy.forwarded > RECORDS // BATCH
    # Each 429 made the client wait what the server asked for; the other faults backed off.
    assert sum(wait == RETRY_AFTER_SECONDS for wait in no_sleep) == proxy.injected["429"]
    assert len(no_sleep) == sum(proxy.injected.values())  # one wait per fault: every fault was retried


@pytest.mark.slow
def test_same_seed_same_faults(live: Any, records: list[dict[str, Any]]) -> None:
    """The faults depend on the seed and the batches only, not on thread timing: two runs meet the same ones."""
    subset = records[:2_000]
    counts = []
    for _ in range(2):
        with FaultProxy(upstream(live), seed=SEED) as proxy, Client(proxy.url + "/score", generation="C") as client:
            assert client.predict_many(subset, batch_size=BATCH, concurrency=4).ok
        counts.append(dict(proxy.injected))
    assert counts[0] == counts[1] and sum(counts[0].values()) > 0


@pytest.mark.slow
def test_when_retries_run_out_the_error_names_the_records(
    live: Any, records: list[dict[str, Any]], fault_free: list[Any]
) -> None:
    poisoned = {(300, 400): "503", (7_000, 7_100): "drop-response"}

    def permanent(rows: list[dict[str, Any]]) -> str | None:
        for (start, stop), fault in poisoned.items():
            if rows == records[start:stop]:
                return fault
        return None

    proxy = FaultProxy(upstream(live), seed=SEED, permanent=permanent)
    client = Client(proxy.url + "/score", generation="C", max_retries=3)
    with proxy, client, pytest.raises(PartialResultError) as raised:
        client.predict_many(records, batch_size=BATCH, concurrency=4)

    result = raised.value.result
    failed = list(range(300, 400)) + list(range(7_000, 7_100))
    assert result.failed_indices() == failed
    message = str(raised.value)
    assert "200 of 10000 records were not scored" in message
    assert "records 300-399: 503" in message and "records 7000-7099: cannot reach" in message
    # Bounded: the first attempt and 3 retries, no more.
    assert proxy.injected == {"503": 4, "drop-response": 4}
    # Everything else came back, in place, as in the fault-free run.
    for index, prediction in enumerate(result.predictions):
        assert prediction == (None if index in set(failed) else fault_free[index]), index
