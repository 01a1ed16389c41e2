"""The scoring record a spec describes, as fields, and as a pydantic model built from them at run time.

One set of rules turns a record's JSON schema into Python: the generator's templates render them as code
(``bankscore swagger generate``), and ``record_model`` builds the same model in memory, so a client can follow
an endpoint whose record differs from the one it shipped with. The rules:

- ``integer`` is ``StrictInt``, ``number`` a finite ``StrictFloat``, ``boolean`` ``StrictBool``, ``string``
  ``str``, anything else ``Any``; an ``enum`` makes a ``Literal`` of its values, in the spec's order;
- ``minimum``/``maximum`` become ``ge``/``le`` (for an integer, rounded inward to the nearest integer);
  descriptions and ``format`` are kept;
- fields the schema does not list as ``required`` are optional (``None`` by default, not sent when not given);
- Python names are the generator's: the wire name split on ``.``, ``_``, ``-``, spaces and case changes,
  joined by ``_`` in lower case, with ``_`` appended to keywords and builtins (``emp.var.rate`` is
  ``emp_var_rate``); records accept either name and are sent by wire name. Extra fields are refused.
- A name pydantic keeps for itself (``model_config``, ``model_dump``, ``json``, any ``model_*``) gets the
  generator's ``field_`` prefix (``field_model_dump``, aliased to the wire name ``model_dump``), and a name is
  NFKC-normalized first, as Python normalizes identifiers in source code.
- A spec the rules cannot turn into a model is refused with a ``SwaggerError`` naming the field: a bound
  that is not a finite number, an enum value that is not a string, number, boolean or null.
"""

from __future__ import annotations

import builtins
import json
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Final, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from bankscore._exceptions import SwaggerError
from bankscore._spec._convert import to_openapi3
from bankscore._spec._diff import number_bound, record_schema_of
from bankscore._spec._document import Document, printable

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
    "safe_python_name",
]

FieldType = Literal["integer", "number", "string", "boolean", "any"]

# Shared by generated models and models built at run time, so both validate the same way.
RECORD_CONFIG: Final = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

DEFAULT_DESCRIPTION: Final = "One scoring record, keyed by wire name."
_DELIMITERS: Final = r"\. _-"
_RESERVED: Final = (set(dir(builtins)) | {"self", "true", "false", "datetime"}) - {"id"}
# What a field may not be called on a pydantic model: its methods and settings, and the metaclass's.
_PYDANTIC_NAMES: Final = frozenset(n for n in (*dir(BaseModel), *dir(type(BaseModel))) if not n.startswith("_"))
_PYDANTIC_PREFIX: Final = "model_"  # pydantic's own namespace, which grows with its versions
_FIELD_PREFIX: Final = "field_"  # openapi-python-client's default field_prefix
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
    """The Python attribute for a wire name: openapi-python-client's name, made safe by ``safe_python_name``."""
    return safe_python_name(_generator_name(wire_name))


def safe_python_name(name: str) -> str:
    """An openapi-python-client field name as it can be declared on a pydantic model.

    NFKC-normalized (what Python makes of it in source code), ``_`` appended to a keyword or builtin the
    normalization made, and ``field_`` prefixed to a name pydantic keeps for itself.
    """
    name = unicodedata.normalize("NFKC", name)
    if name in _RESERVED or keyword.iskeyword(name):
        name += "_"
    if name in _PYDANTIC_NAMES or name.startswith(_PYDANTIC_PREFIX):
        name = _FIELD_PREFIX + name
    return name


def _generator_name(wire_name: str) -> str:
    """The Python attribute for a wire name, exactly as openapi-python-client names it."""
    clean = "".join(c for c in wire_name if c.isidentifier() or c.isdecimal() or c in _DELIMITERS)
    leading_underscore = clean.startswith("_")
    if any(c.isupper() for c in clean):
        clean = " ".join(re.split("([A-Z]?[a-z]+)", clean))
    name = "_".join(re.findall(rf"[^{re.escape(_DELIMITERS)}]+", clean)).lower()
    if name in _RESERVED or keyword.iskeyword(name):
        name += "_"
    if not name.isidentifier() or leading_underscore:
        name = _FIELD_PREFIX + name
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
    if not isinstance(properties, dict):
        raise SwaggerError("the spec's scoring record has properties that are not an object of field schemas")
    listed = record.get("required")
    required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
    fields = []
    seen: dict[str, str] = {}
    for wire_name, schema in properties.items():
        where = f"record.{printable(wire_name)}"
        if not wire_name:
            raise SwaggerError("the spec's scoring record has a field whose name is empty")
        name = python_name(wire_name)
        if not name.isidentifier():
            raise SwaggerError(f"{where}: the field's Python name {name!r} is not an identifier")
        if name in seen:
            raise SwaggerError(f"the record's fields {seen[name]!r} and {wire_name!r} share the Python name {name!r}")
        seen[name] = wire_name
        if not isinstance(schema, dict):
            raise SwaggerError(f"{where}: the field's schema is not an object")
        description = schema.get("description")
        fmt = schema.get("format")
        kind = _TYPES.get(str(schema.get("type")), "any")
        minimum = number_bound(schema.get("minimum"), f"{where}.minimum")
        maximum = number_bound(schema.get("maximum"), f"{where}.maximum")
        if kind == "integer":  # the same integers pass, and pydantic takes only integral bounds for an int
            minimum = math.ceil(minimum) if isinstance(minimum, float) and not minimum.is_integer() else minimum
            maximum = math.floor(maximum) if isinstance(maximum, float) and not maximum.is_integer() else maximum
        fields.append(
            RecordField(
                wire_name=wire_name,
                python_name=name,
                type=kind,
                required=wire_name in required,
                enum=_enum(schema.get("enum"), where),
                minimum=minimum,
                maximum=maximum,
                description=description if isinstance(description, str) and description else None,
                format=fmt if isinstance(fmt, str) else None,
            )
        )
    return fields


def _enum(values: Any, where: str) -> tuple[Any, ...] | None:
    """The enum's values for a ``Literal``: strings, numbers, booleans and null only, as ``Literal`` takes."""
    if not isinstance(values, list) or not values:
        return None
    for value in values:
        if value is not None and not isinstance(value, str | int | float | bool):
            shown = printable(json.dumps(value)[:40])
            raise SwaggerError(f"{where}: the enum value {shown} is not a string, number, boolean or null")
    return tuple(values)


def record_description(document: Document) -> str:
    """The record's description in the spec, or a plain one: the model's docstring either way."""
    description = record_schema_of(to_openapi3(document)).get("description")
    return description if isinstance(description, str) and description else DEFAULT_DESCRIPTION


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
