"""The operations of a deployment's Swagger 2.0 and OpenAPI 3.0.3 documents: health check, scoring, spec.

Their texts, operationIds and security are the real server's (azmlinfsrv 1.5.1), kept verbatim so that a diff
against Azure's files shows only what bankscore adds: the error responses the scoring call can meet, and the
media types the server really answers with.
"""

from __future__ import annotations

from typing import Final

from bankscore.deploy._swagger_schemas import OPENAPI3, SWAGGER2, Json

__all__ = ["SECURITY_SCHEME", "openapi3_paths", "swagger2_paths"]

# What the server's routes answer besides the scoring script's JSON: Flask's default type for the health
# check's plain "Healthy", and JSON for the spec (AMLResponse with json_str=True). Azure's own files say
# text/plain for both.
_HEALTH_MEDIA: Final = "text/html"

SECURITY_SCHEME: Final[Json] = {
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


def swagger2_paths() -> Json:
    """The Swagger 2.0 document's ``paths``."""
    return {
        "/": {"get": _swagger2_health()},
        "/score": {"post": _swagger2_score()},
        "/swagger.json": {"get": _swagger2_spec()},
    }


def openapi3_paths() -> Json:
    """The OpenAPI 3.0.3 document's ``paths``."""
    return {
        "/": {"get": _openapi3_health()},
        "/score": {"post": _openapi3_score()},
        "/swagger.json": {"get": _openapi3_spec()},
    }


# --- Swagger 2.0 operations --------------------------------------------------------------------------------


def _swagger2_failed() -> Json:
    return {"description": _FAILED, "schema": SWAGGER2.ref("ErrorResponse")}


def _swagger2_health() -> Json:
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


def _swagger2_score() -> Json:
    errors = {code: {"description": text, "schema": SWAGGER2.ref("ErrorResponse")} for code, text in _SCORE_ERRORS}
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
                "schema": SWAGGER2.ref("ServiceInput"),
            }
        ],
        "responses": {
            "200": {"description": _SCORED, "schema": SWAGGER2.ref("ServiceOutput")},
            **errors,
            "default": _swagger2_failed(),
        },
    }


def _swagger2_spec() -> Json:
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


def _openapi3_json(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def _openapi3_failed() -> Json:
    return {"description": _FAILED, "content": _openapi3_json(OPENAPI3.ref("ErrorResponse"))}


def _openapi3_health() -> Json:
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


def _openapi3_score() -> Json:
    errors = {
        code: {"description": text, "content": _openapi3_json(OPENAPI3.ref("ErrorResponse"))}
        for code, text in _SCORE_ERRORS
    }
    return {
        "operationId": "RunMLService",
        "description": _SCORE_DESC,
        "security": [{"Bearer": []}],
        "requestBody": {
            "description": _PAYLOAD_DESC,
            "required": True,
            "content": _openapi3_json(OPENAPI3.ref("ServiceInput")),
        },
        "responses": {
            "200": {"description": _SCORED, "content": _openapi3_json(OPENAPI3.ref("ServiceOutput"))},
            **errors,
            "default": _openapi3_failed(),
        },
    }


def _openapi3_spec() -> Json:
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
