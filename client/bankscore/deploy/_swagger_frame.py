"""Generation D's schemas: Microsoft's no-code MLflow shape (a pandas split frame in, a bare array out).

A row of the frame mixes integers, numbers and strings, which a schema cannot type cell by cell: the full record
schema goes in the document's ``x-bankscore`` extension instead (see ``_swagger``).
"""

from __future__ import annotations

from typing import Final

from bankscore.deploy._swagger_schemas import (
    MAX_RECORDS,
    SCORING_METHODS,
    WIRE_TYPES,
    Dialect,
    Json,
    label_or,
    method_schema,
)
from bankscore.features import LABEL, Feature, FeatureKind

__all__ = ["frame_input", "frame_output"]

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


def frame_input(feats: tuple[Feature, ...], dialect: Dialect) -> Json:
    """Generation D's request: Microsoft's shape (a pandas split frame and MLflow params), told truthfully."""
    names = [f.wire_name for f in feats]
    # A cell is whatever its column's feature holds; x-bankscore.record types each one by name.
    cell: Json = (
        # anyOf, not oneOf: an integer is a number too, and oneOf would refuse it for matching both.
        {"anyOf": [dict(WIRE_TYPES[kind]) for kind in FeatureKind]}
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
                "properties": {"predict_method": method_schema(default=True, d=True)},
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


def frame_output(dialect: Dialect) -> Json:
    """Generation D's 200 body: a bare array, one item per row."""
    labels = " or ".join(f'"{c}"' for c in LABEL.classes)
    probabilities = "{" + ", ".join(f'"{c}": P({c})' for c in LABEL.classes) + "}"
    description = (
        f"A bare array, one item per row in order: a label ({labels}) by default, or {probabilities} with "
        f"params.predict_method={SCORING_METHODS[1]}."
    )
    record: Json = {
        "type": "object",
        "required": list(LABEL.classes),
        "properties": {c: {"type": "number", "format": "double", "minimum": 0, "maximum": 1} for c in LABEL.classes},
    }
    return {
        "type": "array",
        "description": description,
        "items": label_or(record, description, dialect),
        "example": [LABEL.classes[0]],
        "format": "numpy.ndarray",
    }
