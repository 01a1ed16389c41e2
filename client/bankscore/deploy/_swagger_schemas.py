"""The schemas of a deployment's Swagger 2.0 and OpenAPI 3.0.3 documents for wire generations A, B and C.

A record is typed from the feature contract (wire type, allowed categories, plausibility range, meaning and a
real example); the request and response bodies around it follow each generation's wire. Generation D's pandas
frame is in ``_swagger_frame``; the operations that point at these schemas are in ``_swagger_operations``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from bankscore._facts import MAX_RECORDS_PER_REQUEST
from bankscore._generations import WireGeneration
from bankscore.features import LABEL, Feature, FeatureKind

__all__ = [
    "MAX_RECORDS",
    "OPENAPI3",
    "SCORING_METHODS",
    "SWAGGER2",
    "WIRE_TYPES",
    "Dialect",
    "Json",
    "error_response",
    "example_row",
    "label_or",
    "method_schema",
    "record_schema",
    "service_input",
    "service_output",
]

Json = dict[str, Any]

SCORING_METHODS: Final[tuple[str, ...]] = ("predict", "predict_proba")
# The most records one request may hold (the scoring script refuses empty data too).
MAX_RECORDS: Final = MAX_RECORDS_PER_REQUEST

WIRE_TYPES: Final[dict[FeatureKind, Json]] = {
    # The same type/format pairs as every spec Azure generates for a bank-marketing model.
    FeatureKind.INTEGER: {"type": "integer", "format": "int64"},
    FeatureKind.NUMBER: {"type": "number", "format": "double"},
    FeatureKind.CATEGORY: {"type": "string"},
}


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the two spec versions inside a schema."""

    ref_root: str
    one_of: bool  # Swagger 2.0 schemas have no oneOf

    def ref(self, name: str) -> Json:
        return {"$ref": self.ref_root + name}


SWAGGER2: Final = Dialect("#/definitions/", one_of=False)
OPENAPI3: Final = Dialect("#/components/schemas/", one_of=True)


def _feature_schema(feat: Feature) -> Json:
    schema = dict(WIRE_TYPES[feat.kind])
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


def record_schema(feats: tuple[Feature, ...]) -> Json:
    """One client, keyed by wire name: every feature required, no other key."""
    return {
        "type": "object",
        "description": "One client, keyed by wire name. Every feature is required and no other key is allowed.",
        "required": [f.wire_name for f in feats],
        "properties": {f.wire_name: _feature_schema(f) for f in feats},
        "additionalProperties": False,
    }


def _data_schema(feats: tuple[Feature, ...]) -> Json:
    return {
        "type": "array",
        "description": f"The records to score (1 to {MAX_RECORDS:,}); the results come back in the same order.",
        "items": record_schema(feats),
        "minItems": 1,
        "maxItems": MAX_RECORDS,
        "format": "pandas.DataFrame:records",  # the server's own hint: the script reads the rows as a DataFrame
    }


def method_schema(*, default: bool, d: bool = False) -> Json:
    """The ``method`` choices; ``d``: generation D's predict_proba answers an object per row."""
    answer = ("{" + ", ".join(f'"{c}": P({c})' for c in LABEL.classes) + "}") if d else _pair()
    schema: Json = {
        "type": "string",
        "description": f"{SCORING_METHODS[0]} returns labels, {SCORING_METHODS[1]} returns {answer} per record.",
        "enum": list(SCORING_METHODS),
    }
    if default:
        schema["default"] = SCORING_METHODS[0]
    return schema


def example_row(feats: tuple[Feature, ...]) -> Json:
    """A real record: every feature's own example."""
    return {f.wire_name: f.example for f in feats}


def service_input(gen: WireGeneration, feats: tuple[Feature, ...]) -> Json:
    """The request body of generation A, B or C."""
    if gen is WireGeneration.A:
        return {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _data_schema(feats)},
            "example": {"data": [example_row(feats)]},
        }
    if gen is WireGeneration.B:
        return {
            "type": "object",
            "required": ["data"],
            "properties": {"data": _data_schema(feats), "method": method_schema(default=True)},
            "example": {"data": [example_row(feats)], "method": SCORING_METHODS[0]},
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
                "properties": {"method": method_schema(default=False)},
            },
        },
        "example": {"Inputs": {"data": [example_row(feats)]}, "GlobalParameters": {"method": SCORING_METHODS[0]}},
    }


def _pair() -> str:
    return "[" + ", ".join(f"P({c})" for c in LABEL.classes) + "]"


def service_output(gen: WireGeneration, dialect: Dialect) -> Json:
    """The 200 body of generation A, B or C."""
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


def _results_schema(labels: str, dialect: Dialect) -> Json:
    description = (
        f"One item per record, in order: a label ({labels}) with method={SCORING_METHODS[0]}, "
        f"or the class probabilities {_pair()} with method={SCORING_METHODS[1]}."
    )
    probabilities: Json = {
        "type": "array",
        "items": {"type": "number", "format": "double", "minimum": 0, "maximum": 1},
        "minItems": len(LABEL.classes),
        "maxItems": len(LABEL.classes),
    }
    items = label_or(probabilities, description, dialect)
    return {"type": "array", "description": description, "items": items, "format": "numpy.ndarray"}


def label_or(probabilities: Json, description: str, dialect: Dialect) -> Json:
    """An answer's item: a label, or the class probabilities as ``probabilities`` types them."""
    label: Json = {"type": "string", "enum": list(LABEL.classes)}
    # Swagger 2.0 cannot say "either"; an untyped item with the description is the honest fallback there.
    return {"oneOf": [label, probabilities]} if dialect.one_of else {"description": description}


def error_response() -> Json:
    """The body of every answer that is not 200: ``{"message": ...}``."""
    return {
        "type": "object",
        "properties": {"message": {"type": "string", "description": "What went wrong, in words."}},
    }
