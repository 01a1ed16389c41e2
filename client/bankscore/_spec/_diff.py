"""What changed in a scoring endpoint's request between two specs, and whether it breaks callers.

Both specs are reduced to what a caller sends: the wire generation (A to D, the body's shape), each record
field (type, format, required, enum, range) and the ``method`` parameter (D: each ``params`` property).
Changes are judged from the side of a client generated from the old spec and still sending what the old spec
allowed:

- breaking: a field removed (callers send it; the new model has no such attribute), a required field added or
  a field becoming required, a type changed (other than integer to number), a format narrowed, an enum value
  removed or an enum introduced, a range narrowed, a generation change other than A to B;
- not breaking: an optional field added, a field becoming optional, integer widened to number or a type
  dropped, an enum value added or an enum dropped, a range widened, A to B (B still accepts A's
  ``{"data": [...]}``).

A Swagger 2.0 spec is converted first, so old Azure files compare with new OpenAPI 3 ones. A bound that is
not a finite number, or a generation that is none of A to D, is refused (``SwaggerError``): a change to it could
not be judged. Names and values from the spec are shown escaped, one change a line whatever they hold.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from bankscore._exceptions import SwaggerError
from bankscore._generations import WireGeneration
from bankscore._spec._convert import to_openapi3
from bankscore._spec._document import Document, printable

__all__ = [
    "CHANGE_GROUPS",
    "EXTENSION_KEY",
    "RequestShape",
    "SpecChange",
    "diff_specs",
    "number_bound",
    "record_schema_of",
    "render_changes",
    "request_shape",
]

_Json = dict[str, Any]
# Where a bankscore deployment's spec says what the schema cannot (its generation, model version, limits).
EXTENSION_KEY: Final = "x-bankscore"
_SCORE_OPERATION: Final = "RunMLService"
_RECORD: Final = "record"
_METHOD: Final = "method"
_FRAME: Final = "input_data"  # D's pandas "split" frame
_PARAMS: Final = "params"

# Kinds in the order (and groups) the human report lists them.
CHANGE_GROUPS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("wire generation", ("generation-changed",)),
    ("fields", ("field-added", "field-removed")),
    ("types and formats", ("type-changed", "format-changed")),
    ("required", ("required-added", "required-removed")),
    ("enums", ("enum-added", "enum-removed", "enum-value-added", "enum-value-removed")),
    ("ranges", ("minimum-changed", "maximum-changed")),
)
_KIND_ORDER: Final = {kind: i for i, (_, kinds) in enumerate(CHANGE_GROUPS) for kind in kinds}
# Narrowing formats: a value valid for the old one may not fit the new one.
_NARROWER_FORMATS: Final = {("int64", "int32"), ("double", "float")}


@dataclass(frozen=True, slots=True)
class SpecChange:
    """One change to the request. ``path`` is ``generation``, ``method`` or ``record.<wire name>``."""

    path: str
    kind: str
    old: Any
    new: Any
    breaking: bool

    def to_dict(self) -> _Json:
        return asdict(self)

    def __str__(self) -> str:
        mark = "BREAKING" if self.breaking else "ok"
        if self.kind == "field-added":
            detail = "added (required)" if self.new.get("required") else "added (optional)"
        elif self.kind == "field-removed":
            detail = "removed"
        elif self.kind in {"required-added", "required-removed"}:
            detail = "became required" if self.new else "became optional"
        elif self.kind == "generation-changed":
            detail = f"changed: {_show(self.old)} -> {_show(self.new)}"
        elif self.kind in {"enum-value-added", "enum-value-removed"}:
            verb = "allows" if self.kind == "enum-value-added" else "no longer allows"
            detail = f"{verb} {_show_value(self.new if self.new is not None else self.old)}"
        else:
            detail = f"{self.kind.replace('-', ' ')}: {_show(self.old)} -> {_show(self.new)}"
        return f"{mark:<9}{printable(self.path)} {detail}"


@dataclass(frozen=True, slots=True)
class _Field:
    type: str | None
    format: str | None
    required: bool
    enum: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None

    def summary(self) -> _Json:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False} | {"required": self.required}


@dataclass(frozen=True, slots=True)
class RequestShape:
    """What a caller sends: the wire generation and every field by path (``method``, ``record.<name>``)."""

    generation: str | None
    fields: Mapping[str, _Field]


def request_shape(document: Document) -> RequestShape:
    """Reduce a spec (Swagger 2.0 or OpenAPI 3) to the request a caller sends to its scoring operation."""
    doc = to_openapi3(document)
    body = _resolve(doc, _request_schema(doc))
    props = _properties(body)
    generation = _generation(doc, props)
    fields: dict[str, _Field] = {}
    method: Any = None
    method_required = False
    if _FRAME in props and "Inputs" not in props:
        # D: the record is the frame's row; params (a model's params schema) are the other thing callers send.
        params = _resolve(doc, props.get(_PARAMS) or {})
        sends_params = _PARAMS in _required(body)
        for name, schema in _properties(params).items():
            required = sends_params and name in _required(params)
            fields[f"{_PARAMS}.{name}"] = _field(doc, schema, required=required, path=f"{_PARAMS}.{name}")
    elif "Inputs" in props:
        params = _resolve(doc, props.get("GlobalParameters") or {})
        method = _properties(params).get(_METHOD)
        # GlobalParameters is optional as a whole, so method is effectively optional for callers too.
        method_required = "GlobalParameters" in _required(body) and _METHOD in _required(params)
    else:
        method = props.get(_METHOD)
        method_required = _METHOD in _required(body)
    if method is not None:
        fields[_METHOD] = _field(doc, method, required=method_required, path=_METHOD)
    record = _record_schema(doc, body, props)
    record_required = _required(record)
    for name, schema in _properties(record).items():
        path = f"{_RECORD}.{name}"
        fields[path] = _field(doc, schema, required=name in record_required, path=path)
    return RequestShape(generation, fields)


def detect_generation(document: Document) -> WireGeneration:
    """The generation a spec declares: ``x-bankscore.generation``, else the shape of its request body.

    ``input_data`` (a pandas split frame) is D, ``Inputs``/``GlobalParameters`` is C, ``data`` with ``method``
    is B, ``data`` alone is A. Raises
    ``ValueError`` when the spec has no recognizable scoring request.
    """
    try:
        shape = request_shape(dict(document))
    except SwaggerError as exc:
        raise ValueError(str(exc)) from None
    if shape.generation is None:
        raise ValueError("the spec's scoring request is none of {Inputs: ...}, {data: ...} and {input_data: ...}")
    return WireGeneration(shape.generation)


def record_schema_of(document: Document) -> _Json:
    """The record schema of the spec's scoring operation, with its own and its properties' references resolved.

    For D (a pandas "split" frame) it is the ``x-bankscore`` extension's ``record`` when the spec has one (a
    bankscore deployment's spec), else a record built from the frame's example, as Azure's no-code spec
    carries the columns only there: each column a field, required (the model's signature enforces every
    column), typed by the example rows' values when there are any.
    """
    doc = to_openapi3(document)
    body = _resolve(doc, _request_schema(doc))
    record = dict(_record_schema(doc, body, _properties(body)))
    if isinstance(record.get("properties"), dict):
        record["properties"] = {name: _resolve(doc, schema) for name, schema in record["properties"].items()}
    return record


def _record_schema(doc: Document, body: _Json, props: Mapping[str, Any]) -> _Json:
    if _FRAME in props and "Inputs" not in props:
        extension = doc.get(EXTENSION_KEY)
        if isinstance(extension, dict) and isinstance(extension.get(_RECORD), dict):
            return dict(extension[_RECORD])
        return _record_from_frame_example(doc, body, props)
    holder = _properties(_resolve(doc, props["Inputs"])) if "Inputs" in props else props
    return _resolve(doc, _resolve(doc, holder.get("data") or {}).get("items") or {})


def _record_from_frame_example(doc: Document, body: _Json, props: Mapping[str, Any]) -> _Json:
    frame = _resolve(doc, props[_FRAME])
    example: Any = (body.get("example") or {}).get(_FRAME) if isinstance(body.get("example"), dict) else None
    if not isinstance(example, dict):
        example = frame.get("example")
    if not isinstance(example, dict) or not isinstance(example.get("columns"), list):
        return {"type": "object", "properties": {}}
    columns = [str(c) for c in example["columns"]]
    rows = [r for r in (example.get("data") or []) if isinstance(r, list) and len(r) == len(columns)]
    properties: _Json = {}
    for i, name in enumerate(columns):
        kinds = {_json_kind(row[i]) for row in rows} - {None}
        if kinds == {"integer", "number"}:
            kinds = {"number"}
        properties[name] = {"type": kinds.pop()} if len(kinds) == 1 else {}
    return {"type": "object", "properties": properties, "required": columns}


def _json_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def diff_specs(old: Document, new: Document) -> list[SpecChange]:
    """Every change to the request from ``old`` to ``new``, generation first, then by field."""
    before, after = request_shape(old), request_shape(new)
    changes: list[SpecChange] = []
    if before.generation != after.generation:
        changes.append(_generation_change(before.generation, after.generation))
    for path in _ordered_paths(before, after):
        was, now = before.fields.get(path), after.fields.get(path)
        if was is None and now is not None:
            changes.append(SpecChange(path, "field-added", None, now.summary(), breaking=now.required))
        elif now is None and was is not None:
            changes.append(SpecChange(path, "field-removed", was.summary(), None, breaking=True))
        elif was is not None and now is not None:
            changes.extend(_field_changes(path, was, now))
    return sorted(changes, key=lambda c: _KIND_ORDER[c.kind])  # stable: keeps field order within a kind


def render_changes(changes: list[SpecChange]) -> str:
    """The human report: changes grouped by kind, breaking ones marked, and a one-line verdict."""
    if not changes:
        return "No changes to the request."
    lines: list[str] = []
    for title, kinds in CHANGE_GROUPS:
        group = [c for c in changes if c.kind in kinds]
        if group:
            lines.append(f"{title}:")
            lines.extend(f"  {c}" for c in group)
    breaking = sum(c.breaking for c in changes)
    verdict = (
        f"{breaking} breaking: a client generated from the old spec needs regenerating and its callers changing."
        if breaking
        else "none breaking: callers of the old client keep working."
    )
    lines.append(f"{len(changes)} change{'s' if len(changes) != 1 else ''}, {verdict}")
    return "\n".join(lines)


# --- reading a spec ------------------------------------------------------------------------------------------


def _request_schema(doc: Document) -> Any:
    operations = [
        op
        for item in (doc.get("paths") or {}).values()
        if isinstance(item, dict)
        for method, op in item.items()
        if method == "post" and isinstance(op, dict) and "requestBody" in op
    ]
    scoring = [op for op in operations if op.get("operationId") == _SCORE_OPERATION] or operations
    if not scoring:
        raise SwaggerError("the spec has no scoring operation (a POST with a request body, e.g. POST /score)")
    body = _resolve(doc, scoring[0]["requestBody"])
    content: _Json = body.get("content") or {}
    media: _Json = content.get("application/json") or next(iter(content.values()), {})
    return media.get("schema") or {}


def _resolve(doc: Document, schema: Any) -> _Json:
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise SwaggerError(f"cannot follow the reference {printable(ref)}")
        seen.add(ref)
        target: Any = doc
        for escaped in ref[2:].split("/"):
            part = escaped.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        if target is None:
            raise SwaggerError(f"the reference {printable(ref)} points at nothing")
        schema = target
    return schema if isinstance(schema, dict) else {}


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A schema's ``properties``: an object of schemas, or none when the spec has something else there."""
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _required(schema: Mapping[str, Any]) -> set[str]:
    """The names a schema's ``required`` lists; none when the spec has something else than a list there."""
    listed = schema.get("required")
    return {name for name in listed if isinstance(name, str)} if isinstance(listed, list) else set()


def _generation(doc: Document, props: Mapping[str, Any]) -> str | None:
    extension = doc.get(EXTENSION_KEY)
    if isinstance(extension, dict) and isinstance(extension.get("generation"), str):
        generation = str(extension["generation"])
        if generation not in {g.value for g in WireGeneration}:
            raise SwaggerError(f"{EXTENSION_KEY}.generation is {printable(generation)!r}, not one of A, B, C and D")
        return generation
    if "Inputs" in props:
        return "C"
    if _FRAME in props:
        return "D"
    if "data" in props:
        return "B" if _METHOD in props else "A"
    return None


def _field(doc: Document, schema: Any, *, required: bool, path: str) -> _Field:
    resolved = _resolve(doc, schema)
    enum = resolved.get("enum")
    return _Field(
        type=resolved.get("type"),
        format=resolved.get("format"),
        required=required,
        enum=tuple(enum) if isinstance(enum, list) else None,
        minimum=number_bound(resolved.get("minimum"), f"{path}.minimum"),
        maximum=number_bound(resolved.get("maximum"), f"{path}.maximum"),
    )


def number_bound(value: Any, where: str) -> int | float | None:
    """A ``minimum``/``maximum`` as a number; ``SwaggerError`` for one that is not a finite number.

    NaN compares unequal to everything, so a NaN bound could neither be judged in a diff nor enforced.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        shown = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else json.dumps(value)
        raise SwaggerError(f"{printable(where)} is {printable(shown[:40])}, not a finite number")
    return value


# --- judging changes -----------------------------------------------------------------------------------------


def _generation_change(old: str | None, new: str | None) -> SpecChange:
    # B accepts A's body unchanged (method is optional and defaults to predict); every other move reshapes it.
    return SpecChange("generation", "generation-changed", old, new, breaking=(old, new) != ("A", "B"))


def _ordered_paths(before: RequestShape, after: RequestShape) -> Iterator[str]:
    seen: set[str] = set()
    for path in [*before.fields, *after.fields]:
        if path not in seen:
            seen.add(path)
            yield path


def _field_changes(path: str, was: _Field, now: _Field) -> Iterator[SpecChange]:
    if was.type != now.type:
        # No type takes any value (D's columns are typed only by example rows, which Azure may leave empty).
        widened = now.type is None or (was.type, now.type) == ("integer", "number")
        yield SpecChange(path, "type-changed", was.type, now.type, breaking=not widened)
    if was.format != now.format:
        # Formats are hints (Azure even uses "pandas.DataFrame:records"); only a narrower number can reject a value.
        narrowed = (
            isinstance(was.format, str)
            and isinstance(now.format, str)
            and (was.format, now.format) in _NARROWER_FORMATS
        )
        yield SpecChange(path, "format-changed", was.format, now.format, breaking=narrowed)
    if was.required != now.required:
        kind = "required-added" if now.required else "required-removed"
        yield SpecChange(path, kind, was.required, now.required, breaking=now.required)
    yield from _enum_changes(path, was.enum, now.enum)
    yield from _bound_change(path, "minimum-changed", was.minimum, now.minimum, narrows=lambda a, b: b > a)
    yield from _bound_change(path, "maximum-changed", was.maximum, now.maximum, narrows=lambda a, b: b < a)


def _enum_changes(path: str, was: tuple[Any, ...] | None, now: tuple[Any, ...] | None) -> Iterator[SpecChange]:
    if was == now:
        return
    if was is None and now is not None:
        yield SpecChange(path, "enum-added", None, list(now), breaking=True)  # a free value is now restricted
    elif now is None and was is not None:
        yield SpecChange(path, "enum-removed", list(was), None, breaking=False)
    elif was is not None and now is not None:
        for value in was:
            if value not in now:
                yield SpecChange(path, "enum-value-removed", value, None, breaking=True)
        for value in now:
            if value not in was:
                yield SpecChange(path, "enum-value-added", None, value, breaking=False)


def _bound_change(
    path: str, kind: str, was: float | None, now: float | None, *, narrows: Callable[[float, float], bool]
) -> Iterator[SpecChange]:
    if was == now:
        return
    if was is None:
        breaking = True  # a bound where there was none rejects values that used to pass
    elif now is None:
        breaking = False
    else:
        breaking = narrows(was, now)
    yield SpecChange(path, kind, was, now, breaking=breaking)


def _show(value: Any) -> str:
    if value is None:
        return "none"
    return printable(value) if isinstance(value, str) else _show_value(value)


def _show_value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True)  # escapes every control and line-separator character
