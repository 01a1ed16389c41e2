"""What a client validates records with and compares the live spec to.

A generated package fixes its record model, wire generation and spec in a ``SpecBinding``; otherwise the
record model comes from the endpoint's spec (``codec_for_spec``), and the drift check compares the record
the caller's code was written for with the live one (``drift_changes``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Generic

from pydantic import BaseModel
from typing_extensions import TypeVar

from bankscore._bank_marketing_record import BankMarketingRecord
from bankscore._generations import WireGeneration
from bankscore._records import RecordCodec
from bankscore._spec import (
    Document,
    RecordField,
    SwaggerError,
    detect_generation,
    diff_specs,
    record_description,
    record_fields,
    record_model,
    record_spec,
)

__all__ = ["R", "SpecBinding", "codec_for_model", "codec_for_spec", "drift_changes"]

# A generated package binds its own Record; bankscore.Client is BaseClient[BankMarketingRecord].
R = TypeVar("R", bound=BaseModel, default=BankMarketingRecord)


class SpecBinding(Generic[R]):
    """What a generated package fixes for its clients: its record model, wire generation and spec.

    ``bankscore swagger generate`` writes ``binding = SpecBinding(...)`` into the package's ``Client`` and
    ``AsyncClient``; the runtime then validates with ``record``, speaks ``generation`` without asking the
    endpoint, and ``check_schema`` compares the live spec with ``spec()``, spec to spec.
    """

    def __init__(self, record: type[R], generation: str, spec: Callable[[], Document], package: str) -> None:
        self.record = record
        self.generation = WireGeneration(generation)
        self.spec = spec
        self.package = package

    def __repr__(self) -> str:
        return f"SpecBinding({self.record.__name__}, generation={self.generation.value!r}, package={self.package!r})"


@functools.cache
def codec_for_model(model: type[BaseModel]) -> RecordCodec[Any]:
    """One codec per model, shared by every client that validates with it."""
    return RecordCodec(model)


def codec_for_spec(spec: Document) -> RecordCodec[Any]:
    """``BankMarketingRecord`` (categories and ranges checked) when the live record has its fields and types,
    else a model of the live record (the endpoint is what the records must fit).

    A field the spec gives no type (D's columns, typed only by example rows that Azure may leave empty) fits
    any type. A D spec that names no columns (a model logged without a signature) takes whatever it is sent:
    ``BankMarketingRecord`` then, as the records are Bank Marketing's.
    """
    default = codec_for_model(BankMarketingRecord)
    try:
        fields = record_fields(spec)
    except SwaggerError:
        if detect_generation(spec) is WireGeneration.D:
            return default
        raise
    expected = dict(_shape(default))
    live = {f.wire_name: _kind(f.type) for f in fields}
    if live.keys() == expected.keys() and all(kind in {"any", expected[name]} for name, kind in live.items()):
        return default
    return codec_for_model(_live_model(tuple(fields), record_description(spec)))


@functools.lru_cache(maxsize=32)
def _live_model(fields: tuple[RecordField, ...], description: str) -> type[BaseModel]:
    return record_model(list(fields), "Record", doc=description)


def _kind(field_type: str) -> str:
    return "number" if field_type == "integer" else field_type  # integer widens to number on the wire


@functools.cache
def _shape(codec: RecordCodec[Any]) -> frozenset[tuple[str, str]]:
    schema = codec.model.model_json_schema(by_alias=True)
    shape = set()
    for wire, prop in (schema.get("properties") or {}).items():
        types = {p.get("type") for p in prop.get("anyOf", [prop])} - {"null"}
        shape.add((wire, _kind(str(next(iter(types), "any")))))
    return frozenset(shape)


def drift_changes(live: Mapping[str, Any], model: type[BaseModel] = BankMarketingRecord) -> list[Any]:
    """The changes between a record model and the record of the live spec (``SpecChange`` objects).

    Only the record's fields count: the client speaks every wire generation, so a generation change is not
    drift.
    """
    mine = record_spec(model.model_json_schema(by_alias=True))
    return [c for c in diff_specs(mine, dict(live)) if c.path.startswith("record.")]
