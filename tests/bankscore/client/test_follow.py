"""``bankscore.Client`` follows the endpoint: it validates and sends records by the live spec's record."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bankscore import BankMarketingRecord, Client, ColumnsDropped, NotFoundError, ValidationError, WireGeneration
from bankscore.swagger import build_pinned_spec


def _spec_without_loan_with_y(generation: str) -> dict[str, Any]:
    """The local deployment's spec for ``generation``, its record changed: ``loan`` gone, the label ``y`` added."""
    spec = json.loads(build_pinned_spec(generation))
    body = spec["components"]["schemas"]["ServiceInput"]["properties"]
    record = body["Inputs"]["properties"]["data"]["items"] if generation == "C" else body["data"]["items"]
    del record["properties"]["loan"]
    record["required"].remove("loan")
    record["properties"]["y"] = {"type": "string", "enum": ["no", "yes"], "description": "The label."}
    record["required"].append("y")
    return dict(spec)


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_records_shaped_like_the_live_record_are_scored(
    generation: str, scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    server = scoring_server(_spec_without_loan_with_y(generation))
    records = [{**{k: v for k, v in r.items() if k != "loan"}, "y": "no"} for r in shipped[:6]]
    with Client(server.scoring_uri, max_retries=0) as client:
        result = client.predict_many(records, batch_size=4, concurrency=1)
        assert client.generation is WireGeneration(generation)
        model = client.record_model
    assert model is not None and model is not BankMarketingRecord
    assert "y" in model.model_fields and "loan" not in model.model_fields
    assert result.labels == ["yes" if (r["age"] - 20) / 80 >= 0.5 else "no" for r in records]
    sent = [row for body in server.bodies for row in (body["Inputs"]["data"] if "Inputs" in body else body["data"])]
    assert sent == records  # exactly the live record's fields, in the caller's values


def test_a_record_that_fits_the_old_model_not_the_live_one_is_refused_before_sending(
    scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    server = scoring_server(_spec_without_loan_with_y("A"))
    with (
        Client(server.scoring_uri, max_retries=0) as client,
        pytest.raises(ValidationError) as raised,
        pytest.warns(ColumnsDropped, match="which were not sent: 'loan'"),
    ):
        client.predict(shipped[0])  # has loan (a known column: dropped), has no y: it would answer 500
    assert "record 0: y=(missing)" in str(raised.value)
    with Client(server.scoring_uri, max_retries=0, strict=True) as client, pytest.raises(ValidationError) as raised:
        client.predict(shipped[0])
    text = str(raised.value)
    assert "record 0: loan='" in text and "is not a field of the endpoint's record" in text
    assert "record 0: y=(missing)" in text
    assert server.bodies == []


def test_the_same_record_as_the_contract_keeps_the_stricter_shipped_model(
    scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    from bankscore.swagger import load_document

    # A real Azure spec of generation C: the same 20 fields, but no categories or ranges in it.
    sample = Path(__file__).resolve().parents[1] / "swagger" / "data" / "Nikhil-Bansal19__MLE-Project2__swagger.json"
    server = scoring_server(load_document(sample))
    with Client(server.scoring_uri, max_retries=0) as client:
        assert client.predict(shipped[0]).label in {"no", "yes"}
        assert client.record_model is BankMarketingRecord  # categories still checked before sending
        with pytest.raises(ValidationError, match="job='astronaut'"):
            client.predict({**shipped[0], "job": "astronaut"})


def test_no_spec_and_no_generation_says_to_pass_the_generation(shipped: list[dict[str, Any]]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"message": "Not Found"})

    client = Client("http://127.0.0.1:9/score", transport=httpx.MockTransport(handler), max_retries=0)
    with client, pytest.raises(NotFoundError) as raised:
        client.predict(shipped[0])
    assert "generation='A', 'B', 'C' or 'D'" in str(raised.value)
    assert raised.value.status == 404


def test_with_a_generation_given_the_spec_is_never_asked_for(shipped: list[dict[str, Any]]) -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path}")
        return httpx.Response(200, json=json.dumps({"result": ["no"]}))

    with Client("http://127.0.0.1:9/score", generation="A", transport=httpx.MockTransport(handler)) as client:
        assert client.predict(shipped[0]).label == "no"
    assert asked == ["POST /score"]


_ROOT = Path(__file__).resolve().parents[3]
_SHARED = Path(os.environ.get("BANKSCORE_SWAGGER_SAMPLES") or _ROOT.parent / "shared" / "azure" / "swagger-samples")
_SPECS = [
    *(
        sorted(_SHARED.glob("*.json"))
        if _SHARED.is_dir()
        else sorted(_ROOT.glob("tests/bankscore/swagger/data/*.json"))
    ),
    _ROOT / "swagger" / "openapi3.json",
]


@pytest.mark.parametrize("spec_path", _SPECS, ids=lambda p: p.name[:40])
def test_every_spec_we_have_is_callable_with_bankscore_client(
    spec_path: Path, scoring_server: Callable[[dict[str, Any]], Any], shipped: list[dict[str, Any]]
) -> None:
    from bankscore.swagger import load_document, request_shape

    document = load_document(spec_path)
    server = scoring_server(document)
    with Client(server.scoring_uri, max_retries=0) as client:
        result = client.predict_many(shipped[:5], batch_size=2, concurrency=1)
        assert client.generation is WireGeneration(str(request_shape(document).generation))
    assert result.labels == ["yes" if (r["age"] - 20) / 80 >= 0.5 else "no" for r in shipped[:5]]
