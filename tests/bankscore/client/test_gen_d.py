"""Generation D in the client: the frame on the wire, every answer shape, and a managed endpoint's behaviour.

The managed-endpoint stub is a real HTTP server on 127.0.0.1 that speaks the no-code wire (a split frame in,
a bare array out) and can be told to answer what Azure's front end answers: 424 with the container's status,
429 with ``Retry-After``, 408. It records every request's headers, so the deployment pin and the bearer token
are checked where they arrive.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from bankscore_tests_loopback import NOT_FOUND, Answer, Handle, Request, serve

import bankscore
from bankscore import (
    AuthenticationError,
    BankMarketingRecord,
    ModelError,
    PayloadTooLargeError,
    Prediction,
    RateLimitError,
    WireGeneration,
)
from bankscore._auth import TokenAuth
from bankscore._spec import detect_generation, record_fields, record_model
from bankscore._wire import PREDICT, PREDICT_PROBA, DecodeError, decode_predictions, encode_frame
from bankscore.features import FEATURE_NAMES
from bankscore.swagger import diff_specs, load_document

GEN_D_WIRE = Path(os.environ.get("BANKSCORE_GEN_D_WIRE") or "/nonexistent")  # set by ./dev.sh when present


def p_yes(row: dict[str, Any]) -> float:
    return round(min(max((float(row["age"]) - 20) / 80, 0.0), 1.0), 6)


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def _split_frame() -> dict[str, Any]:
    """``input_data``'s schema: a pandas DataFrame in split orientation, as the no-code script describes it."""
    return {
        "type": "object",
        "required": ["columns", "index", "data"],
        "properties": {
            "columns": _array({"type": "string"}),
            "index": _array({"type": "integer", "format": "int64"}),
            "data": _array(_array({"type": "object"})),
        },
        "format": "pandas.DataFrame:split",
    }


def d_spec(example_rows: list[list[Any]], *, params: bool = True) -> dict[str, Any]:
    """A no-code endpoint's OpenAPI 3 document in the shape Microsoft's script serves (GEN-D-CONTRACT §4)."""
    service_input: dict[str, Any] = {
        "type": "object",
        "properties": {
            "input_data": _split_frame(),
            "params": (
                {"type": "object", "required": ["predict_method"], "properties": {"predict_method": {"type": "string"}}}
                if params
                else {"type": "object"}
            ),
        },
        "example": {
            "input_data": {
                "columns": list(FEATURE_NAMES),
                "index": list(range(len(example_rows))),
                "data": example_rows,
            },
            "params": {"predict_method": "predict"} if params else {},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "ML service", "version": "1.0"},
        "paths": {
            "/score": {
                "post": {
                    "operationId": "RunMLService",
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/In"}}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": {"In": service_input}},
    }


@dataclass
class Exchange:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ManagedEndpoint:
    """A loopback stand-in for a managed online endpoint in front of a no-code container."""

    spec: dict[str, Any]
    url: str = ""
    seen: list[Exchange] = field(default_factory=list)
    # Scripted answers for the next POSTs: (status, headers, body); empty means "score the frame".
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    required_headers: dict[str, str] = field(default_factory=dict)

    @property
    def scoring_uri(self) -> str:
        return self.url + "/score"

    @property
    def posts(self) -> list[Exchange]:
        return [e for e in self.seen if e.path == "/score"]

    def score(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        frame = body["input_data"]
        rows = [dict(zip(frame["columns"], values, strict=True)) for values in frame["data"]]
        method = (body.get("params") or {}).get("predict_method", "predict")
        answer: list[Any]
        if method == "predict_proba":
            answer = [{"no": 1 - p_yes(r), "yes": p_yes(r)} for r in rows]
        else:
            answer = ["yes" if p_yes(r) >= 0.5 else "no" for r in rows]
        return 200, {}, json.dumps(answer).encode()


def _handle(endpoint: ManagedEndpoint) -> Handle:
    def handle(request: Request) -> Answer:
        if request.method == "GET":
            endpoint.seen.append(Exchange(request.path, dict(request.headers.items()), None))
            return (200, json.dumps(endpoint.spec).encode()) if request.path == "/swagger.json" else NOT_FOUND
        body = request.json()
        headers = {k.lower(): v for k, v in request.headers.items()}
        endpoint.seen.append(Exchange(request.path, headers, body))
        for name, value in endpoint.required_headers.items():
            if headers.get(name) != value:
                return 401, json.dumps({"message": f"{name} is wrong"}).encode()
        return endpoint.script.pop(0) if endpoint.script else endpoint.score(body)

    return handle


@pytest.fixture
def shipped_rows(shipped: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r[name] for name in FEATURE_NAMES] for r in shipped[:2]]


@pytest.fixture
def managed(shipped_rows: list[list[Any]]) -> Iterator[ManagedEndpoint]:
    endpoint = ManagedEndpoint(d_spec(shipped_rows))
    with serve(_handle(endpoint)) as endpoint.url:
        yield endpoint


# --- the wire ------------------------------------------------------------------------------------------------


def test_the_frame_has_columns_index_data_and_asks_for_probabilities_in_params() -> None:
    body = json.loads(encode_frame(["age", "job"], [[41, "admin."], [60, "retired"]], PREDICT_PROBA))
    assert body == {
        "input_data": {"columns": ["age", "job"], "index": [0, 1], "data": [[41, "admin."], [60, "retired"]]},
        "params": {"predict_method": "predict_proba"},
    }
    assert "params" not in json.loads(encode_frame(["age"], [[41]], PREDICT))


def test_the_codec_puts_every_field_in_its_column(shipped: list[dict[str, Any]]) -> None:
    from bankscore._records import RecordCodec

    codec = RecordCodec(BankMarketingRecord)
    records = codec.validate(shipped[:3])
    frame = json.loads(codec.encode(WireGeneration.D, records, PREDICT))["input_data"]
    assert frame["columns"] == list(FEATURE_NAMES)
    assert [dict(zip(frame["columns"], row, strict=True)) for row in frame["data"]] == [
        {name: r[name] for name in FEATURE_NAMES} for r in shipped[:3]
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'["no", "yes"]', [Prediction("no"), Prediction("yes")]),  # an AutoML-like model's labels
        (b"[0, 1]", [Prediction("no"), Prediction("yes")]),  # class indexes
        (b"[0.25, 0.5]", [Prediction("no", 0.25), Prediction("yes", 0.5)]),  # P(yes) per row
        (b"[[0.75, 0.25], [0.1, 0.9]]", [Prediction("no", 0.25), Prediction("yes", 0.9)]),  # predict_proba
        (b'[{"no": 0.75, "yes": 0.25}]', [Prediction("no", 0.25)]),  # a DataFrame as records
        (b'{"predictions": ["yes"]}', [Prediction("yes")]),  # Azure's custom-script example
    ],
)
def test_every_d_answer_shape_is_decoded(body: bytes, expected: list[Prediction]) -> None:
    assert decode_predictions(body, PREDICT_PROBA, len(expected), generation=WireGeneration.D) == expected


def test_pairs_follow_the_stated_class_order_and_records_their_names() -> None:
    flipped = ("yes", "no")  # a model whose classes_ put "yes" first: the caller says so
    assert decode_predictions(b"[[0.8, 0.2]]", PREDICT_PROBA, 1, classes=flipped) == [Prediction("yes", 0.2)]
    with pytest.raises(DecodeError, match="probability named 'yes', got the names no, maybe"):
        decode_predictions(b'[{"no": 0.8, "maybe": 0.2}]', PREDICT_PROBA, 1)
    with pytest.raises(DecodeError, match="class index 2"):
        decode_predictions(b"[2]", PREDICT, 1)


def test_labels_answer_a_probability_request_only_in_d() -> None:
    # A no-code model without a params schema ignores params: labels are its honest answer.
    assert decode_predictions(b'["no"]', PREDICT_PROBA, 1, generation=WireGeneration.D) == [Prediction("no")]
    # C asked for predict_proba and got labels: a broken script, not an answer.
    with pytest.raises(DecodeError, match=r"expected \[P\(no\), P\(yes\)\]"):
        decode_predictions(b'{"Results": ["no"]}', PREDICT_PROBA, 1, generation=WireGeneration.C)


# --- the spec ------------------------------------------------------------------------------------------------


def test_a_no_code_spec_is_d_and_its_columns_are_the_record(shipped_rows: list[list[Any]]) -> None:
    spec = d_spec(shipped_rows)
    assert detect_generation(spec) is WireGeneration.D
    fields = {f.wire_name: f for f in record_fields(spec)}
    assert list(fields) == list(FEATURE_NAMES)
    assert (fields["age"].type, fields["job"].type, fields["euribor3m"].type) == ("integer", "string", "number")
    assert all(f.required for f in fields.values())  # the model's signature enforces every column
    untyped = {f.wire_name: f.type for f in record_fields(d_spec([]))}  # pandas 3: no example rows
    assert set(untyped.values()) == {"any"}


def test_a_spec_without_columns_says_why(shipped_rows: list[list[Any]]) -> None:
    spec = d_spec(shipped_rows)
    spec["components"]["schemas"]["In"]["example"] = {"input_data": {}, "params": {}}
    with pytest.raises(bankscore.SwaggerError, match="names none for a model logged without a signature"):
        record_fields(spec)


def test_params_are_diffed_and_a_move_to_d_breaks_callers(shipped_rows: list[list[Any]]) -> None:
    with_params, without = d_spec(shipped_rows), d_spec(shipped_rows, params=False)
    changes = {c.path: c for c in diff_specs(with_params, without)}
    assert changes["params.predict_method"].kind == "field-removed"
    c_spec = load_document(Path(__file__).parents[3] / "swagger" / "openapi3.json")
    moved = {c.path: c for c in diff_specs(c_spec, with_params)}
    assert moved["generation"].breaking and (moved["generation"].old, moved["generation"].new) == ("C", "D")


@pytest.mark.skipif(not GEN_D_WIRE.is_dir(), reason="the shared generation-D captures are not on this machine")
def test_microsofts_own_specs_are_read() -> None:
    for name in ("swagger2.json", "swagger3.json", "swagger3_pandas3.json", "swagger3_params_model.json"):
        spec = load_document(GEN_D_WIRE / name)
        assert detect_generation(spec) is WireGeneration.D, name
        assert [f.wire_name for f in record_fields(spec)] == list(FEATURE_NAMES), name
    no_signature = load_document(GEN_D_WIRE / "swagger2_registered_v1_nosignature.json")
    assert detect_generation(no_signature) is WireGeneration.D


# --- a managed endpoint --------------------------------------------------------------------------------------


def test_the_client_detects_d_and_scores_labels_and_probabilities(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]]
) -> None:
    with bankscore.Client(managed.scoring_uri) as client:
        result = client.predict_many(shipped[:7], batch_size=3)
        assert client.generation is WireGeneration.D
        assert client.record_model is BankMarketingRecord  # the columns are Bank Marketing's
    assert result.probabilities == [pytest.approx(p_yes(r)) for r in shipped[:7]]
    assert result.labels == ["yes" if p_yes(r) >= 0.5 else "no" for r in shipped[:7]]
    assert sorted(len(e.body["input_data"]["data"]) for e in managed.posts) == [1, 3, 3]  # sent side by side
    with bankscore.Client(managed.scoring_uri, probabilities=False) as client:
        assert client.predict(shipped[0]) == Prediction("yes" if p_yes(shipped[0]) >= 0.5 else "no")
    assert "params" not in managed.posts[-1].body


def test_the_deployment_pin_and_the_key_reach_the_endpoint(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]]
) -> None:
    managed.required_headers = {"azureml-model-deployment": "green", "authorization": "Bearer k-123"}
    with bankscore.Client(managed.scoring_uri, key="k-123", model_deployment="green") as client:
        assert client.predict(shipped[0]).probability == pytest.approx(p_yes(shipped[0]))
    assert all(e.headers["azureml-model-deployment"] == "green" for e in managed.seen)  # the spec's GET too
    with (
        bankscore.Client(managed.scoring_uri, key="k-123", model_deployment="blue", max_retries=0) as client,
        pytest.raises(AuthenticationError),
    ):
        client.predict(shipped[0])
    with pytest.raises(ValueError, match="model_deployment must name"):
        bankscore.Client(managed.scoring_uri, model_deployment=" ")


def test_424_is_a_model_error_with_the_containers_status_and_is_not_retried(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]]
) -> None:
    container = {"ms-azureml-model-error-statuscode": "400", "ms-azureml-model-error-reason": "model_error"}
    message = b'{"message": "A value is not provided for the \'input_data\' parameter."}'
    managed.script = [(424, container, message)]
    with bankscore.Client(managed.scoring_uri, generation="D") as client, pytest.raises(ModelError) as raised:
        client.predict(shipped[0])
    error = raised.value
    assert (error.status, error.model_status, error.reason) == (424, 400, "model_error")
    assert "container status 400" in str(error) and "'input_data' parameter" in str(error)
    assert len(managed.posts) == 1  # the same body would fail the same way


def test_the_no_code_scripts_generic_500_is_a_model_error_that_says_where_the_cause_is(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]]
) -> None:
    generic = b'{"message": "An unexpected error occurred in scoring script. Check the logs for more info."}'
    managed.script = [(500, {"x-ms-run-function-failed": "True"}, generic)]
    with bankscore.Client(managed.scoring_uri, generation="D") as client, pytest.raises(ModelError) as raised:
        client.predict(shipped[0])
    assert raised.value.model_status == 500 and "container's log has the cause" in str(raised.value)
    assert len(managed.posts) == 1


def test_429_waits_as_long_as_retry_after_says_and_408_is_retried(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]], no_sleep: list[float]
) -> None:
    too_many = (429, {"Retry-After": "7"}, b'{"message": "Too many pending requests"}')
    managed.script = [too_many, (408, {}, b'{"message": "upstream request timeout"}')]
    with bankscore.Client(managed.scoring_uri, generation="D") as client:
        assert client.predict(shipped[0]).probability == pytest.approx(p_yes(shipped[0]))
    assert len(managed.posts) == 3
    assert no_sleep[0] == 7.0  # Retry-After, not the backoff
    managed.script = [too_many] * 4
    with (
        bankscore.Client(managed.scoring_uri, generation="D", max_retries=2) as client,
        pytest.raises(RateLimitError),
    ):
        client.predict(shipped[0])


def test_predict_many_keeps_every_body_under_the_limit(managed: ManagedEndpoint, shipped: list[dict[str, Any]]) -> None:
    one = len(json.dumps(shipped[0]))
    with bankscore.Client(managed.scoring_uri, generation="D", max_body_bytes=one * 6) as client:
        result = client.predict_many(shipped[:40], batch_size=40)
    sizes = [len(json.dumps(e.body, separators=(",", ":"))) for e in managed.posts]
    assert result.ok and result.probabilities == [pytest.approx(p_yes(r)) for r in shipped[:40]]
    assert len(sizes) > 1 and max(sizes) <= one * 6
    assert sum(len(e.body["input_data"]["data"]) for e in managed.posts) == 40


def test_a_record_too_large_alone_is_reported_and_the_rest_are_scored(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]]
) -> None:
    huge = dict(shipped[1], job="x" * 5000)  # a model of untyped columns takes it: only the size is wrong
    untyped = record_model(record_fields(d_spec([])))
    with bankscore.Client(managed.scoring_uri, generation="D", max_body_bytes=3000, record_model=untyped) as client:
        result = client.predict_many([shipped[0], huge, shipped[2]], batch_size=3, raise_on_error=False)
    assert result.scored_count == 2 and result.failed_indices() == [1]
    assert isinstance(result.failures[0].error, PayloadTooLargeError)
    assert "over the 3,000-byte request limit" in result.failures[0].reason
    assert all("x" * 100 not in json.dumps(e.body) for e in managed.posts)  # it was never sent


# --- Microsoft Entra tokens ----------------------------------------------------------------------------------


class FakeCredential:
    """azure-identity's TokenCredential as far as the client uses it: each call a new token valid for an hour."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"token-{len(self.scopes)}", int(self.clock[0]) + 3600)


def test_a_credentials_token_is_sent_and_renewed_before_it_expires(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("bankscore._auth._now", lambda: clock[0])
    credential = FakeCredential(clock)
    with bankscore.Client(managed.scoring_uri, generation="D", credential=credential) as client:
        client.predict(shipped[0])
        client.predict(shipped[1])
        clock[0] += 3600 - 299  # inside the last five minutes: renewed before the next request
        client.predict(shipped[2])
        assert "token" not in repr(client) and "credential" in repr(client)
    sent = [e.headers["authorization"] for e in managed.posts]
    assert sent == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert credential.scopes == [("https://ml.azure.com/.default",)] * 2


def test_a_rejected_token_is_replaced_once(managed: ManagedEndpoint, shipped: list[dict[str, Any]]) -> None:
    credential = FakeCredential([0.0])
    credential.get_token("warm-up")  # the server expects the second token: the first is "revoked"
    managed.required_headers = {"authorization": "Bearer token-3"}
    with bankscore.Client(managed.scoring_uri, generation="D", credential=credential) as client:
        client.predict(shipped[0])
    assert [e.headers["authorization"] for e in managed.posts] == ["Bearer token-2", "Bearer token-3"]


def test_an_async_credential_works_in_the_async_client(managed: ManagedEndpoint, shipped: list[dict[str, Any]]) -> None:
    class AsyncCredential:
        calls = 0

        async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            AsyncCredential.calls += 1
            return AccessToken("async-token", 4_000_000_000)

    async def main() -> list[Prediction | None]:
        async with bankscore.AsyncClient(managed.scoring_uri, credential=AsyncCredential()) as client:
            return list(await client.predict_many(shipped[:4], batch_size=2))

    assert len([p for p in asyncio.run(main()) if p is not None]) == 4
    assert {e.headers["authorization"] for e in managed.seen if e.path == "/score"} == {"Bearer async-token"}
    assert AsyncCredential.calls == 1


def test_key_and_credential_together_are_refused_and_bad_credentials_named() -> None:
    with pytest.raises(ValueError, match="not both"):
        bankscore.Client("http://127.0.0.1:9/score", key="k", credential=FakeCredential([0.0]))
    with pytest.raises(TypeError, match="get_token"):
        TokenAuth(object())  # type: ignore[arg-type]


# --- bankscore score -----------------------------------------------------------------------------------------


def test_bankscore_score_reaches_one_deployment_of_a_d_endpoint(
    managed: ManagedEndpoint, shipped: list[dict[str, Any]], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from bankscore.cli import main

    source = tmp_path / "customers.json"
    source.write_text(json.dumps(shipped[:5]))
    managed.required_headers = {"azureml-model-deployment": "blue"}
    args = ["score", str(source), "--uri", managed.scoring_uri, "--proba", "--json"]
    result = CliRunner().invoke(main, [*args, "--model-deployment", "blue"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["probability"] for r in rows] == [pytest.approx(p_yes(r)) for r in shipped[:5]]
    refused = CliRunner().invoke(main, [*args, "--model-deployment", "green"])
    assert refused.exit_code == 1 and "401" in refused.output and "Traceback" not in refused.output
    both = CliRunner().invoke(main, [*args, "--entra", "--key", "k"])
    assert both.exit_code == 2 and "drop --key" in both.output
