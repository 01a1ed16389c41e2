"""The Swagger 2.0 and OpenAPI 3.0.3 documents a local deployment ships beside its scoring script.

The Azure ML inference server (azmlinfsrv 1.5.1) serves ``swagger2.json`` and ``swagger3.json`` from the app
root, when they exist, instead of generating a spec from the inference-schema decorators (which add
milliseconds to every request). So the scoring script stays undecorated and fast, and the spec can say more
than the generated one ever did.

The documents keep the real server's shape (same paths, operationIds, definition names, security scheme and
key order as the specs the server generates itself) so that tools written against Azure's specs keep
working, and add only what the feature contract knows: wire types, allowed categories, plausibility ranges,
meanings, a real example record, the ``method`` choices, the error responses, and an honest ``ServiceOutput``
for generations A and B (a JSON string, where Azure's files claim an array). An ``x-bankscore`` object at the
top names the wire generation, the model version and the features, so a client can tell which body shapes to
speak and notice when a redeploy changed the features.

Pure Python (json only) so that the base install can import it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from bankscore._facts import MAX_RECORDS_PER_REQUEST
from bankscore._generations import WireGeneration
from bankscore._spec import EXTENSION_KEY
from bankscore.features import FEATURES, LABEL, Feature, FeatureKind

__all__ = [
    "EXTENSION_KEY",
    "MAX_RECORDS",
    "SCORING_METHODS",
    "SWAGGER2_FILE",
    "SWAGGER3_FILE",
    "build_openapi3",
    "build_swagger2",
    "swagger_files",
]

_Json = dict[str, Any]

# File names the server looks for in the app root (its server/swagger.py); ?version=2 and ?version=3 serve them.
SWAGGER2_FILE: Final = "swagger2.json"
SWAGGER3_FILE: Final = "swagger3.json"
SCORING_METHODS: Final[tuple[str, ...]] = ("predict", "predict_proba")
# The most records one request may hold (the scoring script refuses empty data too).
MAX_RECORDS: Final = MAX_RECORDS_PER_REQUEST
# What the server's routes answer besides the scoring script's JSON: Flask's default type for the health
# check's plain "Healthy", and JSON for the spec (AMLResponse with json_str=True). Azure's own files say
# text/plain for both.
_HEALTH_MEDIA: Final = "text/html"

# Texts and values of the real server's spec, kept verbatim so that a diff against Azure's files shows only
# what bankscore adds.
_INFO_DESCRIPTION: Final = "API specification for the Azure Machine Learning service {title}"
_SERVICE_VERSION: Final = "1.0"  # the server's SERVICE_VERSION default; the model version goes elsewhere
_SECURITY_SCHEME: Final[_Json] = {
    "type": "apiKey",
    "name": "Authorization",
    "in": "header",
    "description": "For example: Bearer abc123",
}
_HEALTH_DESC: Final = "Simple health check endpoint to ensure the service is up at any given point."
_HEALTH_OK: Final = "If service is up and running, this response will be returned with the content 'Healthy'"
_SCORE_DESC: Final = "Run web service's model and get the prediction output"
_PAYLOAD_DESC: Final = "The input payload for executing the real-time machine learning service."
_SCORED: Final = "The service processed the input correctly and provided a result prediction, if applicable."
_SPEC_DESC: Final = "Get the Swagger specification."
_SPEC_OK: Final = "The Swagger specification."
_FAILED: Final = "The service failed to execute due to an error."
_SPEC_VERSIONS: Final = [2, 3]

# Responses the real server's spec leaves to "default"; every one carries {"message": ...}.
_SCORE_ERRORS: Final[tuple[tuple[str, str], ...]] = (
    (
        "400",
        "The body is not a JSON object, is not valid JSON, or lacks its top-level key "
        "(the server names it in the message).",
    ),
    (
        "401",
        "The Authorization header is missing or holds the wrong key (answered by the key-checking gateway "
        "in front of the server).",
    ),
    ("413", "The body is larger than the gateway in front of the server accepts; send fewer records a call."),
)

_WIRE_TYPES: Final[dict[FeatureKind, _Json]] = {
    # The same type/format pairs as every spec Azure generates for a bank-marketing model.
    FeatureKind.INTEGER: {"type": "integer", "format": "int64"},
    FeatureKind.NUMBER: {"type": "number", "format": "double"},
    FeatureKind.CATEGORY: {"type": "string"},
}


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What differs between the two spec versions inside a schema."""

    ref_root: str
    one_of: bool  # Swagger 2.0 schemas have no oneOf

    def ref(self, name: str) -> _Json:
        return {"$ref": self.ref_root + name}


_SWAGGER2: Final = _Dialect("#/definitions/", one_of=False)
_OPENAPI3: Final = _Dialect("#/components/schemas/", one_of=True)


def build_swagger2(
    generation: WireGeneration | str,
    features: Sequence[Feature] = FEATURES,
    *,
    title: str = "bank-marketing",
    model_version: str = "1",
) -> _Json:
    """The Swagger 2.0 document (what ``GET /swagger.json`` returns) for one deployment."""
    gen, feats = _checked(generation, features)
    return {
        "swagger": "2.0",
        "info": _info(title, gen, model_version),
        EXTENSION_KEY: _extension(gen, feats, model_version),
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": dict(_SECURITY_SCHEME)},
        "paths": {
            "/": {"get": _swagger2_health()},
            "/score": {"post": _swagger2_score()},
            "/swagger.json": {"get": _swagger2_spec()},
        },
        "definitions": _definitions(gen, feats, _SWAGGER2),
    }


def build_openapi3(
    generation: WireGeneration | str,
    features: Sequence[Feature] = FEATURES,
    *,
    title: str = "bank-marketing",
    model_version: str = "1",
) -> _Json:
    """The OpenAPI 3.0.3 document (what ``GET /swagger.json?version=3`` returns) for one deployment."""
    gen, feats = _checked(generation, features)
    return {
        "openapi": "3.0.3",
        "info": _info(title, gen, model_version),
        EXTENSION_KEY: _extension(gen, feats, model_version),
        "security": [{"Bearer": []}],
        "paths": {
            "/": {"get": _openapi3_health()},
            "/score": {"post": _openapi3_score()},
            "/swagger.json": {"get": _openapi3_spec()},
        },
        "components": {
            "schemas": _definitions(gen, feats, _OPENAPI3),
            "securitySchemes": {"Bearer": dict(_SECURITY_SCHEME)},
        },
    }


def swagger_files(
    generation: WireGeneration | str,
    features: Sequence[Feature] = FEATURES,
    *,
    title: str = "bank-marketing",
    model_version: str = "1",
) -> dict[str, bytes]:
    """Both documents serialized for the app root: ``{"swagger2.json": ..., "swagger3.json": ...}``.

    The same inputs always give the same bytes (key order as built, two-space indent, UTF-8, final newline),
    so a redeploy with an unchanged model leaves the files, and the client generated from them, unchanged.
    """
    return {
        SWAGGER2_FILE: _dump(build_swagger2(generation, features, title=title, model_version=model_version)),
        SWAGGER3_FILE: _dump(build_openapi3(generation, features, title=title, model_version=model_version)),
    }


def _dump(document: _Json) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON, and a bad bound should fail here rather than in a client.
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _checked(
    generation: WireGeneration | str, features: Sequence[Feature]
) -> tuple[WireGeneration, tuple[Feature, ...]]:
    gen = WireGeneration(generation)
    feats = tuple(features)
    if not feats:
        raise ValueError("a scoring spec needs at least one feature")
    names = [f.wire_name for f in feats]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"features repeat: {', '.join(repeated)}")
    return gen, feats


def _info(title: str, gen: WireGeneration, model_version: str) -> _Json:
    wire = (
        "the wire of an MLflow model deployed without a scoring script (generation D)"
        if gen is WireGeneration.D
        else f"Azure AutoML wire generation {gen}"
    )
    description = (
        f"{_INFO_DESCRIPTION.format(title=title)}. It answers the Bank Marketing question "
        f'"{LABEL.description}" ({LABEL.name}: {" or ".join(LABEL.classes)}) with model version {model_version}; '
        f"request and response bodies follow {wire}."
    )
    return {"title": title, "description": description, "version": _SERVICE_VERSION}


def _extension(gen: WireGeneration, feats: tuple[Feature, ...], model_version: str) -> _Json:
    extension: _Json = {
        "generation": str(gen),
        "model_version": model_version,
        "features": [f.wire_name for f in feats],
    }
    if gen is WireGeneration.D:
        # D's request is a frame whose cells the spec cannot type one by one (a row mixes integers, numbers
        # and strings): a client reads the full record schema here, the same one A, B and C carry as data.items.
        extension["record"] = _record_schema(feats)
    return extension


# --- schemas shared by both versions ---------------------------------------------------------------------


def _definitions(gen: WireGeneration, feats: tuple[Feature, ...], dialect: _Dialect) -> _Json:
    if gen is WireGeneration.D:
        return {
            "ServiceInput": _frame_input(feats, dialect),
            "ServiceOutput": _frame_output(dialect),
            "ErrorResponse": _error_response(),
        }
    return {
        "ServiceInput": _service_input(gen, feats),
        "ServiceOutput": _service_output(gen, dialect),
        "ErrorResponse": _error_response(),
    }


def _feature_schema(feat: Feature) -> _Json:
    schema = dict(_WIRE_TYPES[feat.kind])
    # The leakage note belongs in the spec: whoever reads it decides what to send.
    schema["description"] = f"{feat.description} {feat.note}" if feat.note else feat.description
    if feat.categories:
        schema["enum"] = list(feat.categories)
    if feat.minimum is not None:
        schema["minimum"] = _bound(feat, feat.minimum)
    if feat.maximum is not None:
        schema["maximum"] = _bound(feat, feat.maximum)
    return schema


def _bound(feat: Feature, value: float) -> int | float:
    # Written in the feature's own type, so that an integer field does not show a bound of 17.0.
    if feat.kind is FeatureKind.INTEGER and float(value).is_integer():
        return int(value)
    return float(value)


def _record_schema(feats: tuple[Feature, ...]) -> _Json:
    return {
        "type": "object",
        "description": "One client, keyed by wire name. Every feature is required and no other key is allowed.",
        "required": [f.wire_name for f in feats],
        "properties": {f.wire_name: _feature_schema(f) for f in feats},
        "additionalProperties": False,
    }


def _data_schema(feats: tuple[Feature, ...]) -> _Json:
    return {
        "type": "array",
        "description": f"The records to score (1 to {MAX_RECORDS:,}); the results come back in the same order.",
        "items": _record_schema(feats),
        "minItems": 1,
        "maxItems": MAX_RECORDS,
        "format": "pandas.DataFrame:records",  # the server's own hint: the script reads the rows as a DataFrame
    }


def _method_schema(*, default: bool, d: bool = False) -> _Json:
    answer = ("{" + ", ".join(f'"{c}": P({c})' for c in LABEL.classes) + "}") if d else _pair()
    schema: _Json = {
        "type": "string",
        "description": f"{SCORING_METHODS[0]} returns labels, {SCORING_METHODS[1]} returns {answer} per record.",
        "enum": list(SCORING_METHODS),
    }
    if default:
        schema["default"] = SCORING_METHODS[0]
    return schema


def _example_row(feats: tuple[Feature, ...]) -> _Json:
    return {f.wire_name: f.example for f in feats}


def _service_input(gen: WireGeneration, feats: tuple[Feature, ...]) -> _Json:
    if gen is WireGeneration.A:
        return {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _data_schema(feats)},
            "example": {"data": [_example_row(feats)]},
        }
    if gen is WireGeneration.B:
        return {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _data_schema(feats), "method": _method_schema(default=True)},
            "example": {"data": [_example_row(feats)], "method": SCORING_METHODS[0]},
        }
    return {
        "type": "object",
        "required": ["Inputs"],
        "properties": {
            "Inputs": {"type": "object", "required": ["data"], "properties": {"data": _data_schema(feats)}},
            "GlobalParameters": {
                "type": "object",
                # Optional as a whole, but real Azure answers 500 to an empty object.
                "description": f"Optional; leaving it out means {SCORING_METHODS[0]}. When sent it must hold "
                "method: an empty object makes the scoring script fail with 500.",
                "required": ["method"],
                "properties": {"method": _method_schema(default=False)},
            },
        },
        "example": {"Inputs": {"data": [_example_row(feats)]}, "GlobalParameters": {"method": SCORING_METHODS[0]}},
    }


# The second row of Microsoft's example for this model (the training set's second row; the first is every
# feature's own example): D's swagger shows two rows, as the no-code script's does.
_SECOND_EXAMPLE: Final[dict[str, str | int | float]] = {
    "age": 55,
    "job": "unknown",
    "marital": "married",
    "education": "unknown",
    "default": "unknown",
    "housing": "yes",
    "loan": "no",
    "contact": "telephone",
    "month": "may",
    "day_of_week": "thu",
    "duration": 285,
    "campaign": 2,
    "pdays": 999,
    "previous": 0,
    "poutcome": "nonexistent",
    "emp.var.rate": 1.1,
    "cons.price.idx": 93.994,
    "cons.conf.idx": -36.4,
    "euribor3m": 4.86,
    "nr.employed": 5191.0,
}


def _frame_input(feats: tuple[Feature, ...], dialect: _Dialect) -> _Json:
    """Generation D's request: Microsoft's shape (a pandas split frame and MLflow params), told truthfully."""
    names = [f.wire_name for f in feats]
    # A cell is whatever its column's feature holds; x-bankscore.record types each one by name.
    cell: _Json = (
        # anyOf, not oneOf: an integer is a number too, and oneOf would refuse it for matching both.
        {"anyOf": [dict(_WIRE_TYPES[kind]) for kind in FeatureKind]}
        if dialect.one_of
        else {"description": "An integer, a number or a string, as its column's feature is typed."}
    )
    return {
        "type": "object",
        "description": "input_data is required (400 without it); other top-level keys are ignored.",
        "properties": {
            "input_data": {
                "type": "object",
                "description": 'The records as a pandas "split" frame: column names, row labels and one array '
                "of values per row, in the columns' order. Every feature of the model is required as a column "
                f"({', '.join(names)}), in any order; other columns are ignored. index may be left out; the "
                "answer does not carry it. Each value is checked as x-bankscore.record types its column.",
                "required": ["columns", "index", "data"],  # as Microsoft's spec says, although index is optional
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "index": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                    "data": {
                        "type": "array",
                        "description": f"The rows to score (1 to {MAX_RECORDS:,}); the results come back in order.",
                        "items": {"type": "array", "items": cell},
                        "minItems": 1,
                        "maxItems": MAX_RECORDS,
                    },
                },
                "format": "pandas.DataFrame:split",
            },
            "params": {
                "type": "object",
                "description": "MLflow's inference parameters. Optional: left out, predict_method is predict.",
                "required": ["predict_method"],  # as Microsoft lists every parameter, defaults included
                "properties": {"predict_method": _method_schema(default=True, d=True)},
            },
        },
        "example": {
            "input_data": {
                "columns": names,
                "index": [0, 1],
                "data": [
                    [f.example for f in feats],
                    [_SECOND_EXAMPLE.get(n, f.example) for n, f in zip(names, feats, strict=True)],
                ],
            },
            "params": {"predict_method": SCORING_METHODS[0]},
        },
    }


def _frame_output(dialect: _Dialect) -> _Json:
    """Generation D's 200 body: a bare array, one item per row."""
    labels = " or ".join(f'"{c}"' for c in LABEL.classes)
    probabilities = "{" + ", ".join(f'"{c}": P({c})' for c in LABEL.classes) + "}"
    description = (
        f"A bare array, one item per row in order: a label ({labels}) by default, or {probabilities} with "
        f"params.predict_method={SCORING_METHODS[1]}."
    )
    label: _Json = {"type": "string", "enum": list(LABEL.classes)}
    record: _Json = {
        "type": "object",
        "required": list(LABEL.classes),
        "properties": {c: {"type": "number", "format": "double", "minimum": 0, "maximum": 1} for c in LABEL.classes},
    }
    items: _Json = {"oneOf": [label, record]} if dialect.one_of else {"description": description}
    return {
        "type": "array",
        "description": description,
        "items": items,
        "example": [LABEL.classes[0]],
        "format": "numpy.ndarray",
    }


def _pair() -> str:
    return "[" + ", ".join(f"P({c})" for c in LABEL.classes) + "]"


def _service_output(gen: WireGeneration, dialect: _Dialect) -> _Json:
    labels = " or ".join(f'"{c}"' for c in LABEL.classes)
    if gen is not WireGeneration.C:
        # Azure's files claim an array here, but run() returns json.dumps(...) and the server encodes that
        # str once more: the body is a JSON string holding a JSON object.
        proba = (
            f', or {{"result": [{_pair()}, ...]}} with method={SCORING_METHODS[1]}' if gen is WireGeneration.B else ""
        )
        return {
            "type": "string",
            "description": "A JSON string, not an object: the scoring script returns JSON text and the server "
            "encodes it again. Decode the string once more to get "
            f'{{"result": [label, ...]}} with one label ({labels}) per record{proba}. '
            'A failing scoring script still answers 200, with {"error": "<message>"} inside the string.',
            "example": json.dumps({"result": [LABEL.classes[0]]}),
        }
    return {
        "type": "object",
        "required": ["Results"],
        "properties": {"Results": _results_schema(labels, dialect)},
        "example": {"Results": [LABEL.classes[0]]},
    }


def _results_schema(labels: str, dialect: _Dialect) -> _Json:
    description = (
        f"One item per record, in order: a label ({labels}) with method={SCORING_METHODS[0]}, "
        f"or the class probabilities {_pair()} with method={SCORING_METHODS[1]}."
    )
    label: _Json = {"type": "string", "enum": list(LABEL.classes)}
    probabilities: _Json = {
        "type": "array",
        "items": {"type": "number", "format": "double", "minimum": 0, "maximum": 1},
        "minItems": len(LABEL.classes),
        "maxItems": len(LABEL.classes),
    }
    # Swagger 2.0 cannot say "either"; an untyped item with the description is the honest fallback there.
    items: _Json = {"oneOf": [label, probabilities]} if dialect.one_of else {"description": description}
    return {"type": "array", "description": description, "items": items, "format": "numpy.ndarray"}


def _error_response() -> _Json:
    return {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "What went wrong, in words."}},
    }


# --- Swagger 2.0 operations --------------------------------------------------------------------------------


def _swagger2_failed() -> _Json:
    return {"description": _FAILED, "schema": _SWAGGER2.ref("ErrorResponse")}


def _swagger2_health() -> _Json:
    return {
        "operationId": "ServiceHealthCheck",
        "description": _HEALTH_DESC,
        "produces": [_HEALTH_MEDIA],
        "responses": {
            "200": {
                "description": _HEALTH_OK,
                "schema": {"type": "string"},
                "examples": {_HEALTH_MEDIA: "Healthy"},
            },
            "default": _swagger2_failed(),
        },
    }


def _swagger2_score() -> _Json:
    errors = {code: {"description": text, "schema": _SWAGGER2.ref("ErrorResponse")} for code, text in _SCORE_ERRORS}
    return {
        "operationId": "RunMLService",
        "description": _SCORE_DESC,
        "security": [{"Bearer": []}],
        "parameters": [
            {
                "name": "serviceInputPayload",
                "in": "body",
                "description": _PAYLOAD_DESC,
                "required": True,
                "schema": _SWAGGER2.ref("ServiceInput"),
            }
        ],
        "responses": {
            "200": {"description": _SCORED, "schema": _SWAGGER2.ref("ServiceOutput")},
            **errors,
            "default": _swagger2_failed(),
        },
    }


def _swagger2_spec() -> _Json:
    return {
        "operationId": "GetSwaggerSpec",
        "description": _SPEC_DESC,
        "parameters": [
            {"name": "version", "in": "query", "required": False, "type": "integer", "enum": list(_SPEC_VERSIONS)}
        ],
        "responses": {
            "200": {"description": _SPEC_OK, "schema": {"type": "object"}},
            "default": _swagger2_failed(),
        },
    }


# --- OpenAPI 3.0.3 operations ------------------------------------------------------------------------------


def _openapi3_json(schema: _Json) -> _Json:
    return {"application/json": {"schema": schema}}


def _openapi3_failed() -> _Json:
    return {"description": _FAILED, "content": _openapi3_json(_OPENAPI3.ref("ErrorResponse"))}


def _openapi3_health() -> _Json:
    return {
        "operationId": "ServiceHealthCheck",
        "description": _HEALTH_DESC,
        # The real file inherits the top-level Bearer requirement here; its own Swagger 2.0 twin (and every
        # Azure spec) asks for the key on /score only, so say that explicitly.
        "security": [],
        "responses": {
            "200": {
                "description": _HEALTH_OK,
                "content": {_HEALTH_MEDIA: {"schema": {"type": "string", "example": "Healthy"}}},
            },
            "default": _openapi3_failed(),
        },
    }


def _openapi3_score() -> _Json:
    errors = {
        code: {"description": text, "content": _openapi3_json(_OPENAPI3.ref("ErrorResponse"))}
        for code, text in _SCORE_ERRORS
    }
    return {
        "operationId": "RunMLService",
        "description": _SCORE_DESC,
        "security": [{"Bearer": []}],
        "requestBody": {
            "description": _PAYLOAD_DESC,
            "required": True,
            "content": _openapi3_json(_OPENAPI3.ref("ServiceInput")),
        },
        "responses": {
            "200": {"description": _SCORED, "content": _openapi3_json(_OPENAPI3.ref("ServiceOutput"))},
            **errors,
            "default": _openapi3_failed(),
        },
    }


def _openapi3_spec() -> _Json:
    return {
        "operationId": "GetSwaggerSpec",
        "description": _SPEC_DESC,
        "security": [],  # as for the health check: only /score asks for the key
        "parameters": [
            {
                "name": "version",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "enum": list(_SPEC_VERSIONS)},
            }
        ],
        "responses": {
            "200": {"description": _SPEC_OK, "content": _openapi3_json({"type": "object"})},
            "default": _openapi3_failed(),
        },
    }
