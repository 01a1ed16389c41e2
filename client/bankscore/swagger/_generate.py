"""Generate a typed client package from a scoring endpoint's spec, the same bytes every time.

openapi-python-client (pinned, the ``codegen`` extra, and reached only through ``_openapi_client_adapter``)
parses the spec's scoring record and renders the package from bankscore's own templates
(``codegen/templates``, shipped with bankscore): a pydantic v2 ``Record``, and ``Client``/``AsyncClient``
bound to bankscore's runtime, which does the wire (every generation, the A/B double-encoded answers), retries,
bulk scoring and errors. The generator sees the record only: Azure's specs describe A/B answers as arrays
although they are JSON strings, and the runtime's decoded ``Prediction`` is what the client returns, so no
operation or response model is generated.

The record is described once (``bankscore._spec.record_fields``): the templates render those fields, and
the runtime builds the same model from them when it follows a live endpoint. The generator's own parse must
agree on every Python name, or generation stops.

``bankscore.BankMarketingRecord`` is this generator's output for the local deployment's spec
(``swagger/openapi3.json`` in the source tree); a test regenerates it and compares bytes.

A spec is untrusted input (it may come from any URL), so its text reaches the generated code one way only:
every string taken from it is handed to the templates as ``SpecText``, and the environment refuses to render
a ``SpecText`` that did not pass through one of the three filters registered in ``_escape_filters``
(``py``: a Python literal, ``docstring``: text inside a triple-quoted docstring, ``identifier``: a checked
Python name). A template that forgets one fails every generation instead of running a spec's code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import keyword
import math
import shutil
import tempfile
import textwrap
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from bankscore import _exceptions
from bankscore._exceptions import SwaggerError
from bankscore._generations import WireGeneration
from bankscore._spec import (
    Document,
    RecordField,
    detect_generation,
    dump_document,
    printable,
    record_description,
    record_fields,
    record_schema_of,
    record_spec,
    safe_python_name,
    to_openapi3,
)
from bankscore._spec._record import SOURCE_TYPES
from bankscore.swagger._openapi_client_adapter import (
    GENERATOR,
    GENERATOR_VERSION,
    UnreadableSpecError,
    build_package,
    check_installed,
)

__all__ = [
    "ERROR_NAMES",
    "GENERATOR",
    "GENERATOR_VERSION",
    "PINNED_GENERATION",
    "GeneratedPackage",
    "build_pinned_spec",
    "default_package_name",
    "generate_package",
    "render_record_module",
]

PINNED_GENERATION: Final = WireGeneration.C  # today's Azure scoring script, and the local deployment's default
RECORD_CLASS: Final = "Record"
SPEC_FILE: Final = "spec.json"

# The runtime's exception classes, as it exports them: a package's ``errors`` module re-exports every one.
ERROR_NAMES: Final = tuple(
    sorted(
        name
        for name in _exceptions.__all__
        if isinstance(getattr(_exceptions, name), type) and issubclass(getattr(_exceptions, name), BaseException)
    )
)

_CODEGEN: Final = "codegen"
# Files every generated package has; a non-empty output directory without them is not replaced.
_GENERATED_MARKERS: Final = ("__init__.py", "client.py", SPEC_FILE)


@dataclass(frozen=True, slots=True)
class GeneratedPackage:
    """Where a package was written and what it fixes."""

    path: Path
    name: str
    generation: WireGeneration
    spec_sha256: str
    fields: tuple[RecordField, ...]


def build_pinned_spec(generation: WireGeneration | str = PINNED_GENERATION) -> bytes:
    """The local deployment's OpenAPI 3 document for ``generation`` with all 20 features, as its bytes."""
    from bankscore.deploy._swagger import SWAGGER3_FILE, swagger_files

    return swagger_files(generation)[SWAGGER3_FILE]


def default_package_name(document: Document) -> str:
    """``<title>_client`` from the spec's title (``bank-marketing`` gives ``bank_marketing_client``)."""
    from bankscore._spec import python_name

    info = document.get("info")
    title = str((info if isinstance(info, dict) else {}).get("title") or "scoring")
    name = python_name(title).strip("_") or "scoring"
    return f"{name.removesuffix('_client')}_client"


def generate_package(
    document: Document,
    output: Path,
    *,
    source: str,
    record_class: str = RECORD_CLASS,
) -> GeneratedPackage:
    """Generate the typed package for ``document`` (Swagger 2.0 or OpenAPI 3) into ``output``.

    The package's import name is ``output``'s last part. It is generated in a temporary directory and then
    replaces ``output`` as a whole, so nothing of an older generation survives. ``source`` (a file name or
    URL) is only named in messages.
    """
    name = output.name
    if not name.isidentifier() or keyword.iskeyword(name):
        raise SwaggerError(f"{output}: the package name {name!r} is not a Python identifier (use e.g. my_client)")
    _check_replaceable(output)
    with tempfile.TemporaryDirectory(prefix="bankscore-generate-") as tmp:
        package = Path(tmp) / name
        generated = _render(document, package, source=source, record_class=record_class)
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(package, output)
    return GeneratedPackage(output, name, generated.generation, generated.spec_sha256, generated.fields)


def render_record_module(document: Document, *, record_class: str) -> str:
    """The text of the record's model module alone (what ``bankscore`` ships as ``BankMarketingRecord``)."""
    with tempfile.TemporaryDirectory(prefix="bankscore-generate-") as tmp:
        package = Path(tmp) / "package"
        generated = _render(document, package, source="spec", record_class=record_class)
        return (package / "models" / f"{generated.record_module}.py").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class _Rendered:
    generation: WireGeneration
    spec_sha256: str
    fields: tuple[RecordField, ...]
    record_module: str


def _render(document: Document, package: Path, *, source: str, record_class: str) -> _Rendered:
    check_installed()
    doc = to_openapi3(document)
    try:
        generation = detect_generation(doc)
    except ValueError as exc:
        raise SwaggerError(f"{source}: {exc}") from None
    fields = tuple(record_fields(doc))
    spec_bytes = dump_document(doc)
    sha256 = hashlib.sha256(spec_bytes).hexdigest()

    def prepare(env: Any) -> None:
        _escape_filters(env)
        env.globals.update(template_context(doc, fields, generation, sha256, record_class))

    try:
        built = build_package(
            _generator_input(doc, record_class),
            package,
            config_file=_codegen_dir() / "config.yaml",
            templates=_codegen_dir() / "templates",
            record_class=record_class,
            prepare_env=prepare,
        )
    except UnreadableSpecError as exc:
        raise SwaggerError(f"{GENERATOR} cannot read {source}: {exc.header}\n{exc.detail or ''}".strip()) from None
    if built.problems:
        detail = "; ".join(built.problems)
        raise SwaggerError(f"{GENERATOR} could not generate a client from {source}: {printable(detail)}")
    (model,) = [m for m in built.models if m.name == record_class]
    theirs = [safe_python_name(name) for name in model.python_names]
    if sorted(theirs) != sorted(f.python_name for f in fields):
        raise SwaggerError(
            printable(f"{GENERATOR} names the record's fields {sorted(theirs)}, bankscore names them otherwise")
        )
    (package / SPEC_FILE).write_bytes(spec_bytes)
    (package / "py.typed").write_text("")
    return _Rendered(generation, sha256, fields, model.module_name)


class SpecText(str):
    """A string taken from a spec: a template renders it only through the ``py``, ``docstring`` or
    ``identifier`` filter (``_escape_filters``), never as it is."""

    __slots__ = ()


def template_context(
    doc: Document,
    fields: tuple[RecordField, ...],
    generation: WireGeneration,
    sha256: str,
    record_class: str,
) -> dict[str, Any]:
    """What the templates see beyond openapi-python-client's globals; every string from the spec a ``SpecText``.

    ``bankscore_errors`` is the runtime's list of exported error classes, so a package re-exports them all.
    """
    info: dict[str, Any] = doc["info"] if isinstance(doc.get("info"), dict) else {}
    marked = tuple(_spec_field(f) for f in fields)
    return {
        "bankscore_record_fields": marked,
        "bankscore_source_types": SOURCE_TYPES,
        "bankscore_generation": generation.value,
        "bankscore_spec_sha256": sha256,
        "bankscore_title": SpecText(info.get("title") or "the scoring endpoint"),
        "bankscore_spec_version": SpecText(info.get("version") or ""),
        "bankscore_generator": f"{GENERATOR} {GENERATOR_VERSION}",
        "bankscore_record_class": record_class,
        "bankscore_example_field": next((f for f in marked if f.wire_name != f.python_name), marked[0]),
        "bankscore_record_description": SpecText(record_description(doc)),
        "bankscore_errors": ERROR_NAMES,
    }


def _spec_field(field: RecordField) -> RecordField:
    def text(value: Any) -> Any:
        return SpecText(value) if isinstance(value, str) else value

    return dataclasses.replace(
        field,
        wire_name=SpecText(field.wire_name),
        python_name=SpecText(field.python_name),
        enum=tuple(text(v) for v in field.enum) if field.enum is not None else None,
        description=text(field.description),
        format=text(field.format),
    )


def _escape_filters(env: Any) -> None:
    """The one way from a spec's text into generated code: three filters, and a guard on everything else."""
    env.filters["py"] = _python_literal
    env.filters["docstring"] = _docstring_text
    env.filters["identifier"] = _identifier
    env.finalize = _refuse_unescaped


def _refuse_unescaped(value: Any) -> Any:
    if isinstance(value, SpecText):
        raise TypeError(f"a template renders spec text without a filter (| py, | docstring, | identifier): {value!r}")
    return value


def _generator_input(doc: Document, record_class: str) -> Document:
    """What the generator parses: the record schema as a named component, used by the scoring operation."""
    record = {k: v for k, v in record_schema_of(doc).items() if k not in {"title", "example"}}
    info: dict[str, Any] = doc["info"] if isinstance(doc.get("info"), dict) else {}
    return record_spec(
        {"$ref": f"#/components/schemas/{record_class}"},
        info={"title": str(info.get("title") or "scoring"), "version": str(info.get("version") or "1.0")},
        components={"schemas": {record_class: record}},
    )


def _codegen_dir() -> Path:
    return Path(str(resources.files("bankscore.swagger") / _CODEGEN))


def _python_literal(value: Any) -> str:
    """A Python literal for a scalar JSON value from the spec: strings escaped as JSON does, in ASCII (valid
    Python too, and safe in a comment); ``None``, booleans, integers and finite floats as themselves."""
    if value is None or isinstance(value, bool | int):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SwaggerError(f"{value} cannot be written as a bound or value of the record (not a JSON number)")
        return repr(value)
    if isinstance(value, str):
        # "coding" escaped too: in a comment on a module's first two lines it would declare the source encoding
        # (unicode_escape turns every escape below it back into quotes and line breaks).
        return json.dumps(str(value), ensure_ascii=True).replace("coding", "c\\u006fding")
    raise TypeError(f"a template renders a {type(value).__name__} as a Python literal")


def _docstring_text(text: Any, indent: int = 4, *, wrap: bool = True) -> str:
    """Text for inside a triple-quoted docstring: wrapped at 116 columns with continuation lines indented (or
    on one line), backslashes and quotes escaped, and every character that is not printable (line breaks,
    NUL, surrogates) written as an escape, so the text can neither end the docstring nor break the source."""
    words = str(text)
    lines = textwrap.wrap(words, 116 - indent) if wrap else [words]
    escaped = [_no_coding("".join(_docstring_char(c) for c in line)) for line in lines] or [""]
    return ("\n" + " " * indent).join(escaped) + ("\n" + " " * indent if len(escaped) > 1 else "")


def _docstring_char(char: str) -> str:
    if char in '\\"':
        return "\\" + char
    return char if char.isprintable() else repr(char)[1:-1]


def _no_coding(text: str) -> str:
    # As in ``_python_literal``: spec text never spells "coding", wherever in a module it lands.
    return text.replace("coding", "c\\x6fding")


def _identifier(name: Any) -> str:
    """A Python name from the spec (a record field's), checked: an identifier, and no keyword."""
    text = str(name)
    if not text.isidentifier() or keyword.iskeyword(text):
        raise SwaggerError(f"{printable(text)!r} cannot be a Python name in the generated package")
    return text


def _check_replaceable(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise SwaggerError(f"{output} exists and is not a directory")
    if output.is_dir() and any(output.iterdir()) and not all((output / m).is_file() for m in _GENERATED_MARKERS):
        raise SwaggerError(f"{output} is not empty and does not hold a generated client; refusing to replace it")
