"""The optional drift check: the live spec's record against the client's generated model."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bankscore import Client, SchemaDriftError, WireGeneration
from bankscore.swagger import build_pinned_spec, to_openapi3

from .conftest import FakeEndpoint

URI = "http://127.0.0.1:9/score"


def spec_with(change: Any, generation: str = "C") -> dict[str, Any]:
    spec = json.loads(build_pinned_spec(generation))
    schema = spec["components"]["schemas"]["ServiceInput"]["properties"]
    record = schema["Inputs"]["properties"]["data"]["items"] if generation == "C" else schema["data"]["items"]
    change(record)
    return dict(spec)


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_the_pinned_spec_of_any_generation_is_not_drift(generation: str) -> None:
    endpoint = FakeEndpoint(generation, spec=json.loads(build_pinned_spec(generation)))
    with Client(URI, transport=httpx.MockTransport(endpoint), check_schema=True) as client:
        assert client.check_schema() == []
        assert client.generation is WireGeneration(generation)


def test_a_breaking_change_raises_with_the_diff() -> None:
    def change(record: dict[str, Any]) -> None:
        record["properties"]["job"]["enum"].remove("student")
        record["properties"]["loyalty"] = {"type": "integer"}
        record["required"].append("loyalty")

    endpoint = FakeEndpoint(spec=spec_with(change))
    with pytest.raises(SchemaDriftError) as raised:
        Client(URI, transport=httpx.MockTransport(endpoint), check_schema=True)
    text = str(raised.value)
    assert 'record.job no longer allows "student"' in text
    assert "record.loyalty added (required)" in text
    assert {c.path for c in raised.value.changes} == {"record.job", "record.loyalty"}


def test_a_compatible_change_is_returned_not_raised() -> None:
    def change(record: dict[str, Any]) -> None:
        record["properties"]["job"]["enum"].append("influencer")

    endpoint = FakeEndpoint(spec=spec_with(change))
    with Client(URI, generation="C", transport=httpx.MockTransport(endpoint)) as client:
        changes = client.check_schema()
    assert [(c.path, c.kind, c.breaking) for c in changes] == [("record.job", "enum-value-added", False)]


def test_a_swagger2_only_server_is_converted(shipped: list[dict[str, Any]]) -> None:
    from pathlib import Path

    from bankscore.swagger import load_document

    sample = Path(__file__).resolve().parents[1] / "swagger" / "data" / "Nikhil-Bansal19__MLE-Project2__swagger.json"
    swagger2 = load_document(sample)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.params.get("version"):
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, json=swagger2)

    with Client(URI, transport=httpx.MockTransport(handler)) as client:
        assert client.fetch_spec() == to_openapi3(swagger2)
        assert client.generation is WireGeneration.C
    assert seen[:2] == ["http://127.0.0.1:9/swagger.json?version=3", "http://127.0.0.1:9/swagger.json"]
