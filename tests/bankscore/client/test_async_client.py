"""bankscore.AsyncClient: the same behaviour as Client, awaited (httpx.MockTransport for the faults)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from bankscore import AsyncClient, AuthenticationError, PartialResultError, Prediction, ValidationError
from bankscore.swagger import build_pinned_spec

from .conftest import KEY, FakeEndpoint, label, p_yes

URI = "http://127.0.0.1:9/score"


def client_for(endpoint: FakeEndpoint, **kwargs: Any) -> AsyncClient:
    return AsyncClient(URI, transport=httpx.MockTransport(endpoint), **kwargs)


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_predict_and_predict_many_per_generation(generation: str, shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint(generation, spec=json.loads(build_pinned_spec(generation)))

    async def main() -> tuple[Prediction, Any]:
        async with client_for(endpoint) as client:
            one = await client.predict(shipped[0])
            many = await client.predict_many(shipped, batch_size=100, concurrency=8)
            return one, many

    one, many = asyncio.run(main())
    probability = None if generation == "A" else p_yes(shipped[0])
    assert one == Prediction(label(shipped[0]), probability)
    assert many.labels == [label(r) for r in shipped]
    assert endpoint.requests[0].method == "GET"  # the generation came from the spec, once
    assert sum(r.method == "GET" for r in endpoint.requests) == 1


def test_retries_and_order_under_faults(no_sleep: list[float], shipped: list[dict[str, Any]]) -> None:
    def unavailable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"message": "busy"}, headers={"Retry-After": "1"})

    endpoint = FakeEndpoint(faults=[unavailable] * 3)

    async def main() -> Any:
        async with client_for(endpoint, generation="C") as client:
            return await client.predict_many(shipped[:1000], batch_size=100, concurrency=4)

    result = asyncio.run(main())
    assert result.ok and result.labels == [label(r) for r in shipped[:1000]]
    assert len(endpoint.scoring_requests) == 13
    assert no_sleep == [1.0, 1.0, 1.0]


def test_partial_result_and_auth_errors(shipped: list[dict[str, Any]]) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"message": "An unexpected error occurred in scoring script."})

    async def partial() -> None:
        async with client_for(FakeEndpoint(faults=[broken] * 4), generation="C") as client:
            await client.predict_many(shipped[:300], batch_size=100, concurrency=1)

    with pytest.raises(PartialResultError) as raised:
        asyncio.run(partial())
    assert raised.value.result.failed_indices() == list(range(100))

    def unauthorized(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"message": "Unauthorized"})

    async def wrong_key() -> None:
        async with client_for(FakeEndpoint(faults=[unauthorized] * 10), generation="C", key=KEY) as client:
            assert KEY not in repr(client)
            await client.predict(shipped[0])

    with pytest.raises(AuthenticationError) as auth:
        asyncio.run(wrong_key())
    assert KEY not in str(auth.value)


def test_invalid_records_are_refused_before_sending(shipped: list[dict[str, Any]]) -> None:
    endpoint = FakeEndpoint()

    async def main() -> None:
        async with client_for(endpoint, generation="C") as client:
            await client.predict_many([*shipped[:5], {**shipped[5], "month": "smarch"}])

    with pytest.raises(ValidationError, match="record 5: month='smarch'"):
        asyncio.run(main())
    assert endpoint.requests == []
