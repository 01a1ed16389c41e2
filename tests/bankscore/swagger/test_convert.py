"""Swagger 2.0 to OpenAPI 3: real Azure files convert and the generator makes a package of the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bankscore.deploy._swagger import build_openapi3, build_swagger2
from bankscore.swagger import (
    SwaggerError,
    convert_swagger2,
    dump_document,
    generate_package,
    load_document,
    to_openapi3,
)

DATA = Path(__file__).parent / "data"
REAL_SAMPLES = sorted(DATA.glob("*__swagger.json"))
# The full set of research samples, when the shared folder is there (it is not part of the repository).
SHARED_SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "azure" / "swagger-samples"


def _generates(document: dict[str, Any], tmp_path: Path) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return generate_package(json.loads(dump_document(document)), tmp_path / "client", source="spec").path


@pytest.mark.parametrize("sample", REAL_SAMPLES, ids=lambda p: p.name.split("__")[0])
def test_real_azure_sample_converts_and_generates(sample: Path, tmp_path: Path) -> None:
    converted = convert_swagger2(load_document(sample))
    text = json.dumps(converted)
    assert converted["openapi"] == "3.0.3"
    assert "#/definitions/" not in text and "definitions" not in converted
    assert converted["components"]["securitySchemes"]["Bearer"] == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "For example: Bearer abc123",
    }
    score = converted["paths"]["/score"]["post"]
    assert "parameters" not in score
    assert score["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceInput"
    }
    assert score["security"] == [{"Bearer": []}]
    assert score["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServiceOutput"
    }
    assert converted["paths"]["/"]["get"]["responses"]["200"]["content"]["application/json"]["example"] == "Healthy"

    client = _generates(converted, tmp_path)
    assert (client / "client.py").is_file()
    assert (client / "models" / "record.py").is_file()


@pytest.mark.skipif(not SHARED_SAMPLES.is_dir(), reason="the shared research samples are not on this machine")
def test_every_shared_sample_converts_and_generates(tmp_path: Path) -> None:
    samples = sorted(SHARED_SAMPLES.glob("*.json"))
    assert samples
    for i, sample in enumerate(samples):
        client = _generates(to_openapi3(load_document(sample)), tmp_path / str(i))
        assert (client / "models" / "record.py").is_file(), sample.name


@pytest.mark.parametrize("generation", ["A", "B", "C"])
def test_converting_our_swagger2_gives_our_openapi3_request(generation: str) -> None:
    converted = convert_swagger2(build_swagger2(generation))
    native = build_openapi3(generation)
    assert converted["components"]["schemas"]["ServiceInput"] == native["components"]["schemas"]["ServiceInput"]
    assert converted["components"]["schemas"]["ErrorResponse"] == native["components"]["schemas"]["ErrorResponse"]
    assert converted["components"]["securitySchemes"] == native["components"]["securitySchemes"]
    assert converted["paths"]["/score"]["post"]["requestBody"] == native["paths"]["/score"]["post"]["requestBody"]
    assert converted["paths"]["/score"]["post"]["responses"] == native["paths"]["/score"]["post"]["responses"]
    assert converted["x-bankscore"] == native["x-bankscore"]


def test_conversion_is_deterministic_and_leaves_the_input_alone() -> None:
    source = load_document(REAL_SAMPLES[0])
    before = json.dumps(source)
    assert dump_document(convert_swagger2(source)) == dump_document(convert_swagger2(source))
    assert json.dumps(source) == before


def test_openapi3_passes_through_and_other_documents_are_refused() -> None:
    native = build_openapi3("C")
    assert to_openapi3(native) is native
    with pytest.raises(SwaggerError, match=r"only a Swagger 2\.0"):
        convert_swagger2(native)
    with pytest.raises(SwaggerError, match=r"neither swagger: 2\.0 nor openapi: 3\.x"):
        to_openapi3({"swagger": "1.2"})


GENERIC = {
    "swagger": "2.0",
    "info": {"title": "t", "version": "1"},
    "host": "example.org",
    "basePath": "/v1",
    "schemes": ["https", "http"],
    "consumes": ["application/json"],
    "produces": ["application/json"],
    "x-owner": "team",
    "securityDefinitions": {
        "basic": {"type": "basic"},
        "oauth": {"type": "oauth2", "flow": "application", "tokenUrl": "https://t/token", "scopes": {"r": "read"}},
    },
    "parameters": {
        "Limit": {"name": "limit", "in": "query", "type": "integer", "minimum": 1},
        "Payload": {"name": "payload", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Thing"}},
    },
    "responses": {"NotFound": {"description": "gone", "schema": {"$ref": "#/definitions/Error"}}},
    "definitions": {
        "Thing": {
            "type": "object",
            "discriminator": "kind",
            "properties": {
                "kind": {"type": "string"},
                "note": {"type": "string", "x-nullable": True},
                "parts": {"type": "array", "items": {"$ref": "#/definitions/Thing"}},
            },
            "example": {"$ref": "not a reference, an example value"},
        },
        "Error": {"type": "object", "properties": {"message": {"type": "string"}}},
    },
    "paths": {
        "/things/{id}": {
            "parameters": [{"name": "id", "in": "path", "type": "string"}],
            "get": {
                "operationId": "getThing",
                "produces": ["application/xml"],
                "parameters": [
                    {"$ref": "#/parameters/Limit"},
                    {
                        "name": "tags",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "schema": {"$ref": "#/definitions/Thing"},
                        "headers": {"X-Rate": {"type": "integer", "description": "left"}},
                    },
                    "404": {"$ref": "#/responses/NotFound"},
                },
            },
            "put": {
                "operationId": "putThing",
                "parameters": [{"$ref": "#/parameters/Payload"}],
                "responses": {"204": {"description": "done"}},
            },
            "post": {
                "operationId": "upload",
                "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "file", "in": "formData", "type": "file", "required": True},
                    {"name": "label", "in": "formData", "type": "string", "description": "what it is"},
                ],
                "responses": {"201": {"description": "made"}},
            },
        }
    },
}


def test_general_swagger2_shapes_convert() -> None:
    out = convert_swagger2(GENERIC)
    assert out["servers"] == [{"url": "https://example.org/v1"}, {"url": "http://example.org/v1"}]
    assert out["x-owner"] == "team"
    schemes = out["components"]["securitySchemes"]
    assert schemes["basic"] == {"type": "http", "scheme": "basic"}
    assert schemes["oauth"]["flows"] == {"clientCredentials": {"tokenUrl": "https://t/token", "scopes": {"r": "read"}}}
    thing = out["components"]["schemas"]["Thing"]
    assert thing["discriminator"] == {"propertyName": "kind"}
    assert thing["properties"]["note"] == {"type": "string", "nullable": True}
    assert thing["properties"]["parts"]["items"] == {"$ref": "#/components/schemas/Thing"}
    assert thing["example"] == {"$ref": "not a reference, an example value"}  # values are not rewritten
    assert out["components"]["parameters"]["Limit"]["schema"] == {"type": "integer", "minimum": 1}
    assert out["components"]["requestBodies"]["Payload"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    assert out["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }

    item = out["paths"]["/things/{id}"]
    assert item["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    get = item["get"]
    assert get["parameters"][0] == {"$ref": "#/components/parameters/Limit"}
    assert get["parameters"][1]["style"] == "form" and get["parameters"][1]["explode"] is True
    assert list(get["responses"]["200"]["content"]) == ["application/xml"]  # the operation's produces wins
    assert get["responses"]["200"]["headers"]["X-Rate"] == {"description": "left", "schema": {"type": "integer"}}
    assert get["responses"]["404"] == {"$ref": "#/components/responses/NotFound"}
    put = item["put"]
    assert put["requestBody"]["required"] is True
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Thing"}
    form = item["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"] == {"type": "string", "format": "binary"}
    assert form["properties"]["label"] == {"type": "string", "description": "what it is"}
    assert form["required"] == ["file"]
    assert "parameters" not in item["post"]


def test_local_references_that_cannot_be_converted_are_named() -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "definitions": {"A": {"$ref": "#/x/y"}},
    }
    with pytest.raises(SwaggerError, match="#/x/y"):
        convert_swagger2(doc)
