"""The scoring record a spec describes, as fields, and as a pydantic model built from them at run time.

One set of rules turns a record's JSON schema into Python: the generator's templates render them as code
(``bankscore swagger generate``), and ``record_model`` builds the same model in memory, so a client can follow
an endpoint whose record differs from the one it shipped with. The rules:

- ``integer`` is ``StrictInt``, ``number`` a finite ``StrictFloat``, ``boolean`` ``StrictBool``, ``string``
  ``str``, anything else ``Any``; an ``enum`` makes a ``Literal`` of its values, in the spec's order;
- ``minimum``/``maximum`` become ``ge``/``le``; descriptions and ``format`` are kept;
- fields the schema does not list as ``required`` are optional (``None`` by default, not sent when not given);
- Python names are the generator's: the wire name split on ``.``, ``_``, ``-``, spaces and case changes,
  joined by ``_`` in lower case, with ``_`` appended to keywords and builtins (``emp.var.rate`` is
  ``emp_var_rate``); records accept either name and are sent by wire name. Extra fields are refused.
"""

from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from bankscore._exceptions import SwaggerError
from bankscore._spec._convert import to_openapi3
from bankscore._spec._diff import record_schema_of
from bankscore._spec._document import Document

__all__ = [
    "DEFAULT_DESCRIPTION",
    "RECORD_CONFIG",
    "SOURCE_TYPES",
    "FieldType",
    "RecordField",
    "python_name",
    "record_description",
    "record_fields",
    "record_model",
]

FieldType = Literal["integer", "number", "string", "boolean", "any"]

# Shared by generated models and models built at run time, so both validate the same way.
RECORD_CONFIG: Final = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

DEFAULT_DESCRIPTION: Final = "One scoring record, keyed by wire name."
_DELIMITERS: Final = r"\. _-"
_RESERVED: Final = (set(dir(builtins)) | {"self", "true", "false", "datetime"}) - {"id"}
_TYPES: Final[dict[str, FieldType]] = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean",
}


@dataclass(frozen=True, slots=True)
class RecordField:
    """One field of a scoring record, as the spec states it."""

    wire_name: str
    python_name: str
    type: FieldType
    required: bool
    enum: tuple[Any, ...] | None = None
    minimum: int | float | None = None
    maximum: int | float | None = None
    description: str | None = None
    format: str | None = None

    @property
    def is_numeric(self) -> bool:
        return self.enum is None and self.type in {"integer", "number"}


def python_name(wire_name: str) -> str:
    """The Python attribute for a wire name, exactly as openapi-python-client names it."""
    clean = "".join(c for c in wire_name if c.isidentifier() or c.isdecimal() or c in _DELIMITERS)
    leading_underscore = clean.startswith("_")
    if any(c.isupper() for c in clean):
        clean = " ".join(re.split("([A-Z]?[a-z]+)", clean))
    name = "_".join(re.findall(rf"[^{re.escape(_DELIMITERS)}]+", clean)).lower()
    if name in _RESERVED or keyword.iskeyword(name):
        name += "_"
    if not name.isidentifier() or leading_underscore:
        name = "field_" + name  # openapi-python-client's default field_prefix
    return name


def record_fields(document: Document) -> list[RecordField]:
    """The fields of the record the spec's scoring operation takes (Swagger 2.0 is converted first)."""
    doc = to_openapi3(document)
    record = record_schema_of(doc)
    properties: dict[str, Any] = record.get("properties") or {}
    if not properties:
        raise SwaggerError(
            "the spec's scoring record has no fields (expected data: [{feature: value}], or an input_data frame "
            "whose example names its columns; Azure's no-code spec names none for a model logged without a "
            "signature)"
        )
    required = set(record.get("required") or [])
    fields = []
    seen: dict[str, str] = {}
    for wire_name, schema in properties.items():
        name = python_name(wire_name)
        if name in seen:
            raise SwaggerError(f"the record's fields {seen[name]!r} and {wire_name!r} share the Python name {name!r}")
        seen[name] = wire_name
        enum = schema.get("enum")
        description = schema.get("description")
        fmt = schema.get("format")
        fields.append(
            RecordField(
                wire_name=wire_name,
                python_name=name,
                type=_TYPES.get(str(schema.get("type")), "any"),
                required=wire_name in required,
                enum=tuple(enum) if isinstance(enum, list) and enum else None,
                minimum=_bound(schema.get("minimum")),
                maximum=_bound(schema.get("maximum")),
                description=description if isinstance(description, str) and description else None,
                format=fmt if isinstance(fmt, str) else None,
            )
        )
    return fields


def record_description(document: Document) -> str:
    """The record's description in the spec, or a plain one: the model's docstring either way."""
    description = record_schema_of(to_openapi3(document)).get("description")
    return description if isinstance(description, str) and description else DEFAULT_DESCRIPTION


def _bound(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def record_model(fields: list[RecordField], name: str = "Record", *, doc: str | None = None) -> type[BaseModel]:
    """A pydantic model of ``fields`` built in memory; it validates exactly as a generated ``Record`` does."""
    definitions: dict[str, Any] = {}
    for field in fields:
        annotation = _annotation(field)
        options: dict[str, Any] = {}
        if field.wire_name != field.python_name:
            options["validation_alias"] = field.wire_name
            options["serialization_alias"] = field.wire_name
        if field.minimum is not None:
            options["ge"] = field.minimum
        if field.maximum is not None:
            options["le"] = field.maximum
        if field.type == "number" and field.enum is None:
            options["allow_inf_nan"] = False
        if field.format is not None:
            options["json_schema_extra"] = {"format": field.format}
        if field.description is not None:
            options["description"] = field.description
        if field.required:
            definitions[field.python_name] = (annotation, Field(**options))
        else:
            definitions[field.python_name] = (annotation | None, Field(default=None, **options))
    model: type[BaseModel] = pydantic.create_model(name, __config__=RECORD_CONFIG, __doc__=doc, **definitions)
    return model


def _annotation(field: RecordField) -> Any:
    if field.enum is not None:
        return Literal[field.enum]  # Literal[("a", "b")] is Literal["a", "b"]
    return _RUNTIME_TYPES[field.type]


# The same types twice: as objects for models built here, as source text for the generator's templates.
_RUNTIME_TYPES: Final[dict[FieldType, Any]] = {
    "integer": StrictInt,
    "number": StrictFloat,
    "string": str,
    "boolean": StrictBool,
    "any": Any,
}
SOURCE_TYPES: Final[dict[FieldType, str]] = {
    "integer": "StrictInt",
    "number": "StrictFloat",
    "string": "str",
    "boolean": "StrictBool",
    "any": "Any",
}
