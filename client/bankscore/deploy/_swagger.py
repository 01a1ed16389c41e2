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

This module assembles the two documents and their files; the schemas are in ``_swagger_schemas`` (generation
D's frame in ``_swagger_frame``) and the operations in ``_swagger_operations``. Pure Python (json only) so
that the base install can import it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from bankscore._generations import WireGeneration
from bankscore._spec import EXTENSION_KEY
from bankscore.deploy._swagger_frame import frame_input, frame_output
from bankscore.deploy._swagger_operations import SECURITY_SCHEME, openapi3_paths, swagger2_paths
from bankscore.deploy._swagger_schemas import (
    MAX_RECORDS,
    OPENAPI3,
    SCORING_METHODS,
    SWAGGER2,
    Dialect,
    Json,
    error_response,
    record_schema,
    service_input,
    service_output,
)
from bankscore.features import FEATURES, LABEL, Feature

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

# File names the server looks for in the app root (its server/swagger.py); ?version=2 and ?version=3 serve them.
SWAGGER2_FILE: Final = "swagger2.json"
SWAGGER3_FILE: Final = "swagger3.json"

# The real server's info texts, kept verbatim so that a diff against Azure's files shows only what bankscore adds.
_INFO_DESCRIPTION: Final = "API specification for the Azure Machine Learning service {title}"
_SERVICE_VERSION: Final = "1.0"  # the server's SERVICE_VERSION default; the model version goes elsewhere


def build_swagger2(
    generation: WireGeneration | str,
    features: Sequence[Feature] = FEATURES,
    *,
    title: str = "bank-marketing",
    model_version: str = "1",
) -> Json:
    """The Swagger 2.0 document (what ``GET /swagger.json`` returns) for one deployment."""
    gen, feats = _checked(generation, features)
    return {
        "swagger": "2.0",
        **_about(gen, feats, title, model_version),
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": dict(SECURITY_SCHEME)},
        "paths": swagger2_paths(),
        "definitions": _definitions(gen, feats, SWAGGER2),
    }


def build_openapi3(
    generation: WireGeneration | str,
    features: Sequence[Feature] = FEATURES,
    *,
    title: str = "bank-marketing",
    model_version: str = "1",
) -> Json:
    """The OpenAPI 3.0.3 document (what ``GET /swagger.json?version=3`` returns) for one deployment."""
    gen, feats = _checked(generation, features)
    return {
        "openapi": "3.0.3",
        **_about(gen, feats, title, model_version),
        "security": [{"Bearer": []}],
        "paths": openapi3_paths(),
        "components": {
            "schemas": _definitions(gen, feats, OPENAPI3),
            "securitySchemes": {"Bearer": dict(SECURITY_SCHEME)},
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
    builders = {SWAGGER2_FILE: build_swagger2, SWAGGER3_FILE: build_openapi3}
    return {
        name: _dump(build(generation, features, title=title, model_version=model_version))
        for name, build in builders.items()
    }


def _dump(document: Json) -> bytes:
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


def _about(gen: WireGeneration, feats: tuple[Feature, ...], title: str, model_version: str) -> Json:
    """What both versions say first: ``info``, then the ``x-bankscore`` extension right after it."""
    return {"info": _info(title, gen, model_version), EXTENSION_KEY: _extension(gen, feats, model_version)}


def _info(title: str, gen: WireGeneration, model_version: str) -> Json:
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


def _extension(gen: WireGeneration, feats: tuple[Feature, ...], model_version: str) -> Json:
    extension: Json = {
        "generation": str(gen),
        "model_version": model_version,
        "features": [f.wire_name for f in feats],
    }
    if gen is WireGeneration.D:
        # D's request is a frame whose cells the spec cannot type one by one (a row mixes integers, numbers
        # and strings): a client reads the full record schema here, the same one A, B and C carry as data.items.
        extension["record"] = record_schema(feats)
    return extension


def _definitions(gen: WireGeneration, feats: tuple[Feature, ...], dialect: Dialect) -> Json:
    if gen is WireGeneration.D:
        return {
            "ServiceInput": frame_input(feats, dialect),
            "ServiceOutput": frame_output(dialect),
            "ErrorResponse": error_response(),
        }
    return {
        "ServiceInput": service_input(gen, feats),
        "ServiceOutput": service_output(gen, dialect),
        "ErrorResponse": error_response(),
    }
