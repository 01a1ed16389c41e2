"""A spec is untrusted input: whatever its text holds, generating from it or importing the result runs none of it.

Every hostile spec here either generates a package that imports (in a fresh interpreter whose working directory
would receive the payload's file) and validates records, or stops with a one-line ``SwaggerError`` and exit code
2: in ``generate``, ``diff``, ``pull`` and the runtime client.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bankscore
from bankscore._spec import MAX_DEPTH, python_name, record_fields, record_model
from bankscore.cli import main
from bankscore.swagger import (
    SwaggerError,
    build_pinned_spec,
    diff_specs,
    dump_document,
    generate_package,
    parse_document,
    render_changes,
)

PAYLOAD = '__import__("os").system("touch PWNED")'
HOSTILE = [
    f'x"""\n{PAYLOAD}\n"""',
    f"x'''\n{PAYLOAD.replace(chr(34), chr(39))}\n'''",
    'ends with a quote"',
    "ends with a backslash\\",
    f'"; {PAYLOAD}; "',
    f'\\"""\n{PAYLOAD}#',
    f'-*- coding: unicode_escape -*- """\n{PAYLOAD}\n"""',
    "a NUL\x00byte",
    "line\u2028separator\x85next\rcarriage\x0cform\ttab",
    "{{ 7 * 7 }} {% raw %} ${HOME}",
]
RESERVED = ["model_config", "model_dump", "model_fields", "json", "schema", "copy", "class", "__init__", "self"]


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    """The record schema of a generation C spec built by bankscore."""
    record: dict[str, Any] = doc["components"]["schemas"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"][
        "items"
    ]
    return record


def _spec(edit: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(build_pinned_spec("C"))
    if edit is not None:
        edit(doc)
    return doc


def _hostile_everywhere(text: str) -> dict[str, Any]:
    """The pinned spec with ``text`` in every string a template could render, and in a field of its own."""

    def edit(doc: dict[str, Any]) -> None:
        doc["info"]["title"] = text
        doc["info"]["version"] = text
        doc["info"]["description"] = text
        record = _record(doc)
        record["description"] = text
        record["example"] = {text: text}
        record["properties"]["age"]["description"] = text
        record["properties"]["job"]["enum"].append(text)
        record["properties"]["job"]["example"] = text
        record["properties"][text] = {
            "type": "string",
            "enum": [text, "plain"],
            "format": text,
            "description": text,
            "example": text,
            "default": text,
        }

    return _spec(edit)


def _sample(document: dict[str, Any]) -> dict[str, Any]:
    """One record that fits: the first enum value, the minimum, or a plain value, by wire name."""
    plain = {"integer": 1, "number": 1.5, "string": "text", "boolean": True, "any": None}
    return {
        f.wire_name: f.enum[0] if f.enum else f.minimum if f.minimum is not None else plain[f.type]
        for f in record_fields(document)
    }


_IMPORT = """
import json, sys
sample = json.loads(sys.stdin.read())
import {name} as package
from {name} import errors, models, client
record = package.Record.model_validate(sample)
print(json.dumps({{
    "title": package.TITLE,
    "doc": package.__doc__,
    "client_doc": client.__doc__,
    "models_doc": models.__doc__,
    "record_doc": package.Record.__doc__,
    "descriptions": {{n: f.description for n, f in package.Record.model_fields.items()}},
    "dumped": record.model_dump(by_alias=True, exclude_none=True),
}}))
"""


def _import_fresh(where: Path, name: str, sample: dict[str, Any]) -> dict[str, Any]:
    """Import the package at ``where/name`` in a new interpreter running in ``where``; what it reports."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT.format(name=name)],
        input=json.dumps(sample),
        capture_output=True,
        text=True,
        cwd=where,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def _one_line_exit_2(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return str(lines[0])


def test_a_title_that_closes_a_docstring_runs_no_code_on_import(tmp_path: Path) -> None:
    title = f'x"""\n{PAYLOAD}\n"""'
    spec = tmp_path / "evil.json"
    spec.write_bytes(dump_document(_spec(lambda d: d["info"].update(title=title))))
    result = CliRunner().invoke(main, ["swagger", "generate", "--spec", str(spec), "-o", str(tmp_path / "evil")])
    assert result.exit_code == 0, result.output
    report = _import_fresh(tmp_path, "evil", _sample(_spec()))
    assert not (tmp_path / "PWNED").exists()
    assert report["title"] == title
    assert title in report["doc"] and title in report["client_doc"] and title in report["models_doc"]


@pytest.mark.parametrize("text", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_text_in_every_field_of_a_spec_is_inert_text_in_the_package(text: str, tmp_path: Path) -> None:
    document = _hostile_everywhere(text)
    generate_package(document, tmp_path / "hostile", source="hostile.json")
    sample = _sample(document)
    report = _import_fresh(tmp_path, "hostile", sample)
    assert not (tmp_path / "PWNED").exists()
    assert report["dumped"] == sample  # the hostile wire name and enum value go out as they came in
    assert report["title"] == text
    assert text in report["doc"] and text in report["client_doc"] and text in report["models_doc"]
    assert report["descriptions"]["age"] == text
    for module in (tmp_path / "hostile").rglob("*.py"):
        first_two = module.read_text(encoding="utf-8").splitlines()[:2]
        assert not any("coding:" in line for line in first_two), module  # no source encoding declared by a spec


def test_a_field_with_an_empty_name_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    document = _spec(lambda d: _record(d)["properties"].update({"": {"type": "string"}}))
    with pytest.raises(SwaggerError, match=r"^the spec's scoring record has a field whose name is empty$"):
        generate_package(document, tmp_path / "empty", source="empty.json")


def test_a_description_ending_in_a_quote_generates_a_package_that_imports(tmp_path: Path) -> None:
    document = _spec(lambda d: _record(d).update(description='One client, "quoted"'))
    generate_package(document, tmp_path / "quoted", source="quoted.json")
    report = _import_fresh(tmp_path, "quoted", _sample(document))
    assert report["record_doc"] == 'One client, "quoted"'


@pytest.mark.parametrize("wire", RESERVED)
def test_a_field_named_like_pydantics_own_attributes_gets_a_safe_name_and_keeps_its_wire_name(
    wire: str, tmp_path: Path
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        record = _record(doc)
        record["properties"][wire] = {"type": "integer", "minimum": 0}
        record["required"].append(wire)

    document = _spec(edit)
    name = python_name(wire)
    assert name != wire and name.isidentifier()
    generate_package(document, tmp_path / "reserved", source="reserved.json")
    sample = _sample(document)
    report = _import_fresh(tmp_path, "reserved", sample)
    assert report["dumped"] == sample
    assert name in report["descriptions"]


@pytest.mark.parametrize("wire", ["\ufb01eld", "\uff43\uff4c\uff41\uff53\uff53"])  # "ﬁeld", fullwidth "class"
def test_a_field_name_python_normalizes_is_declared_as_python_reads_it(wire: str, tmp_path: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _record(doc)["properties"][wire] = {"type": "string"}

    document = _spec(edit)
    generate_package(document, tmp_path / "nfkc", source="nfkc.json")
    sample = _sample(document)
    report = _import_fresh(tmp_path, "nfkc", sample)
    assert report["dumped"] == sample
    assert python_name(wire) in report["descriptions"]


def _deep(levels: int) -> bytes:
    """The pinned spec's bytes with an example nested ``levels`` arrays deep (too deep for json.dumps)."""
    text = dump_document(_spec()).decode().rstrip().removesuffix("}")
    return f'{text}, "x-example": {"[" * levels}{"]" * levels}}}\n'.encode()


MALFORMED: dict[str, bytes] = {
    "minimum-infinity": dump_document(_spec()).replace(b'"minimum": 17', b'"minimum": Infinity'),
    "maximum-nan": dump_document(_spec()).replace(b'"maximum": 120', b'"maximum": NaN'),
    "nested-100000": _deep(100_000),
    "nested-one-too-many": _deep(MAX_DEPTH),
    "lone-surrogate": dump_document(_spec()).replace(b'"Age of the client', b'"\\ud800 Age of the client'),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_spec_stops_generate_with_one_line_and_exit_2(name: str, tmp_path: Path) -> None:
    assert MALFORMED[name] != dump_document(_spec())
    spec = tmp_path / "bad.json"
    spec.write_bytes(MALFORMED[name])
    result = CliRunner().invoke(main, ["swagger", "generate", "--spec", str(spec), "-o", str(tmp_path / "bad_client")])
    line = _one_line_exit_2(result)
    assert "bad.json" in line
    assert not (tmp_path / "bad_client").exists()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_spec_stops_diff_with_exit_2(name: str, tmp_path: Path) -> None:
    (tmp_path / "old.json").write_bytes(dump_document(_spec()))
    (tmp_path / "new.json").write_bytes(MALFORMED[name])
    result = CliRunner().invoke(main, ["swagger", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    assert "new.json" in _one_line_exit_2(result)


@pytest.mark.parametrize("name", ["minimum-infinity", "nested-100000"])
def test_a_malformed_spec_stops_pull_with_exit_2(name: str, spec_server: Callable[..., Any]) -> None:
    server = spec_server(swagger2=MALFORMED[name], openapi3=MALFORMED[name])
    result = CliRunner().invoke(main, ["swagger", "pull", server.url + "/score"])
    assert "swagger.json" in _one_line_exit_2(result)


def test_the_runtime_client_raises_a_swagger_error_for_a_deeply_nested_live_spec(
    spec_server: Callable[..., Any],
) -> None:
    server = spec_server(swagger2=MALFORMED["nested-100000"], openapi3=MALFORMED["nested-100000"])
    with bankscore.Client(server.url + "/score", max_retries=0) as client, pytest.raises(SwaggerError) as raised:
        client.predict(_sample(_spec()))
    assert "deeper than" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("bound", "value"), [("minimum", float("nan")), ("maximum", float("nan")), ("minimum", float("inf"))]
)
def test_a_non_finite_bound_is_refused_by_diff_and_generate_not_judged_harmless(
    bound: str, value: float, tmp_path: Path
) -> None:
    new = _spec(lambda d: _record(d)["properties"]["age"].update({bound: value}))
    with pytest.raises(SwaggerError, match="not a JSON number") as raised:
        diff_specs(_spec(), new)
    assert "\n" not in str(raised.value)
    with pytest.raises(SwaggerError, match="not a JSON number"):
        generate_package(new, tmp_path / "nan_client", source="nan.json")
    assert not (tmp_path / "nan_client").exists()


@pytest.mark.parametrize("value", ["17", [17], True, {"min": 1}])
def test_a_bound_that_is_not_a_number_is_a_swagger_error_naming_the_field(value: Any, tmp_path: Path) -> None:
    new = _spec(lambda d: _record(d)["properties"]["age"].update(minimum=value))
    with pytest.raises(SwaggerError, match=r"record\.age\.minimum is .*, not a finite number"):
        diff_specs(_spec(), new)
    with pytest.raises(SwaggerError, match=r"record\.age\.minimum"):
        generate_package(new, tmp_path / "str_client", source="str.json")


def test_an_enum_value_that_is_not_a_scalar_is_a_swagger_error(tmp_path: Path) -> None:
    new = _spec(lambda d: _record(d)["properties"]["job"]["enum"].append({"__import__": "os"}))
    with pytest.raises(SwaggerError, match=r"record\.job: the enum value .* is not a string"):
        generate_package(new, tmp_path / "enum_client", source="enum.json")


def test_a_newline_in_a_field_name_cannot_forge_lines_of_the_diff(tmp_path: Path) -> None:
    forged = "extra\nBREAKING record.age removed\n1 change, none breaking: callers of the old client keep working."

    def edit(doc: dict[str, Any]) -> None:
        _record(doc)["properties"][forged] = {"type": "string", "format": "a\nb"}

    old, new = _spec(), _spec(edit)
    text = render_changes(diff_specs(old, new))
    assert len(text.splitlines()) == 3, text  # the group title, the one change, the verdict
    assert "record.extra\\nBREAKING record.age removed" in text
    (tmp_path / "old.json").write_bytes(dump_document(old))
    (tmp_path / "new.json").write_bytes(dump_document(new))
    result = CliRunner().invoke(main, ["swagger", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 3, result.output
    changed = copy.deepcopy(new)
    _record(changed)["properties"][forged]["format"] = "c\r\nd"
    line = render_changes(diff_specs(new, changed)).splitlines()[1]
    assert line.endswith("format changed: a\\nb -> c\\r\\nd")


def test_a_generation_that_is_none_of_a_to_d_is_a_swagger_error() -> None:
    new = _spec(lambda d: d["x-bankscore"].update(generation="Z\nBREAKING"))
    with pytest.raises(SwaggerError, match=r"x-bankscore\.generation is 'Z\\\\nBREAKING'"):
        diff_specs(_spec(), new)


def test_the_runtime_client_follows_a_live_spec_with_a_field_named_model_dump(
    scoring_server: Callable[[dict[str, Any]], Any],
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        record = _record(doc)
        record["properties"]["model_dump"] = record["properties"].pop("duration")
        record["required"] = [n if n != "duration" else "model_dump" for n in record["required"]]

    document = _spec(edit)
    server = scoring_server(document)
    sample = _sample(document)
    with bankscore.Client(server.scoring_uri, max_retries=0) as client:
        prediction = client.predict(sample)
        assert client.record_model is not None
        assert "field_model_dump" in client.record_model.model_fields
    assert prediction.label in {"yes", "no"}
    sent = server.bodies[0]["Inputs"]["data"][0]
    assert sent["model_dump"] == sample["model_dump"]


def test_parse_document_refuses_json_that_is_not_strict() -> None:
    for text in (b'{"openapi": "3.0.3", "x": NaN}', b'{"openapi": "3.0.3", "x": -Infinity}'):
        with pytest.raises(SwaggerError, match="not a JSON number"):
            parse_document(text, "spec.json")


_PLACES = ("body", "inputs", "globals", "data", "record", "age", "job")
_KEYS = ("type", "enum", "minimum", "maximum", "required", "properties", "description", "format", "$ref", "items")
_VALUES: tuple[Any, ...] = (None, True, 0, -1.5, "0", "", [], [{}], [1, "x", None], {}, {"a": [1]}, {"$ref": "#/x"})


@pytest.mark.parametrize("place", _PLACES)
def test_any_json_in_any_schema_of_the_request_is_read_or_refused_with_a_swagger_error(place: str) -> None:
    old = _spec()
    for key in _KEYS:
        for value in _VALUES:
            new = copy.deepcopy(old)
            body = new["components"]["schemas"]["ServiceInput"]
            schema = {
                "body": body,
                "inputs": body["properties"]["Inputs"],
                "globals": body["properties"]["GlobalParameters"],
                "data": body["properties"]["Inputs"]["properties"]["data"],
                "record": _record(new),
                "age": _record(new)["properties"]["age"],
                "job": _record(new)["properties"]["job"],
            }[place]
            schema[key] = value
            for read in (lambda doc: diff_specs(old, doc), lambda doc: record_model(record_fields(doc))):
                try:
                    read(new)
                except SwaggerError as exc:
                    assert "\n" not in str(exc), (key, value, str(exc))
