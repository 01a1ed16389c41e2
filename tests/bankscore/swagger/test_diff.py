"""`bankscore swagger diff`: each kind of change, whether it breaks callers, exit codes and JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bankscore.cli import main
from bankscore.deploy._swagger import build_openapi3, build_swagger2
from bankscore.features import FEATURES
from bankscore.swagger import SpecChange, diff_specs, dump_document, load_document, render_changes

DATA = Path(__file__).parent / "data"
REAL_A = DATA / "thanasisvax__Bank-Marketing-Project__swagger.json"
REAL_C = DATA / "Nikhil-Bansal19__MLE-Project2__swagger.json"


def _record(doc: dict[str, Any]) -> dict[str, Any]:
    """The record schema of a generation C OpenAPI 3 document built by bankscore."""
    record: dict[str, Any] = doc["components"]["schemas"]["ServiceInput"]["properties"]["Inputs"]["properties"]["data"][
        "items"
    ]
    return record


def _changed(edit: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    old = build_openapi3("C")
    new = copy.deepcopy(old)
    edit(_record(new))
    return old, new


def _only(changes: list[SpecChange]) -> SpecChange:
    assert len(changes) == 1, changes
    return changes[0]


def _cli(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], *args: str) -> Any:
    (tmp_path / "old.json").write_bytes(dump_document(old))
    (tmp_path / "new.json").write_bytes(dump_document(new))
    return CliRunner().invoke(main, ["swagger", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"), *args])


def test_same_spec_has_no_changes_and_exits_0(tmp_path: Path) -> None:
    spec = build_openapi3("C")
    assert diff_specs(spec, spec) == []
    result = _cli(tmp_path, spec, spec)
    assert result.exit_code == 0
    assert "No changes to the request." in result.output


def test_swagger2_and_openapi3_of_one_deployment_do_not_differ() -> None:
    for generation in "ABC":
        assert diff_specs(build_swagger2(generation), build_openapi3(generation)) == []


def test_excluding_duration_is_a_breaking_removal(tmp_path: Path) -> None:
    old = build_openapi3("C")
    new = build_openapi3("C", [f for f in FEATURES if f.wire_name != "duration"])
    change = _only(diff_specs(old, new))
    assert (change.path, change.kind, change.breaking) == ("record.duration", "field-removed", True)
    assert change.old["type"] == "integer" and change.new is None
    result = _cli(tmp_path, old, new)
    assert result.exit_code == 1
    assert "fields:" in result.output and "BREAKING record.duration removed" in result.output
    assert "1 change, 1 breaking" in result.output


def test_adding_the_field_back_is_not_breaking_when_optional_and_breaking_when_required() -> None:
    without = build_openapi3("C", [f for f in FEATURES if f.wire_name != "duration"])
    with_it = build_openapi3("C")
    required = _only(diff_specs(without, with_it))
    assert (required.kind, required.breaking, required.new["required"]) == ("field-added", True, True)

    def optional(record: dict[str, Any]) -> None:
        record["required"].remove("duration")

    _, optional_new = _changed(optional)
    added = _only(diff_specs(without, optional_new))
    assert (added.kind, added.breaking) == ("field-added", False)


def test_generation_a_to_c_is_breaking(tmp_path: Path) -> None:
    changes = diff_specs(build_openapi3("A"), build_openapi3("C"))
    assert changes[0] == SpecChange("generation", "generation-changed", "A", "C", breaking=True)
    # C also brings GlobalParameters.method; optional, so that part alone would not break anyone.
    assert [(c.path, c.kind, c.breaking) for c in changes[1:]] == [("method", "field-added", False)]
    result = _cli(tmp_path, build_openapi3("A"), build_openapi3("C"), "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)[0] == {
        "path": "generation",
        "kind": "generation-changed",
        "old": "A",
        "new": "C",
        "breaking": True,
    }


def test_generation_a_to_b_keeps_callers_working(tmp_path: Path) -> None:
    changes = diff_specs(build_openapi3("A"), build_openapi3("B"))
    assert [(c.path, c.kind, c.breaking) for c in changes] == [
        ("generation", "generation-changed", False),
        ("method", "field-added", False),  # optional: {"data": [...]} alone still means predict
    ]
    assert _cli(tmp_path, build_openapi3("A"), build_openapi3("B")).exit_code == 0


def test_real_files_without_the_x_bankscore_extension_are_detected_by_shape() -> None:
    changes = diff_specs(load_document(REAL_A), load_document(REAL_C))
    assert changes[0] == SpecChange("generation", "generation-changed", "A", "C", breaking=True)


def test_an_enum_where_there_was_none_is_breaking() -> None:
    # The 2020 Azure file lets job be any string; bankscore's spec of the same generation lists the categories.
    changes = diff_specs(load_document(REAL_A), build_swagger2("A"))
    job = [c for c in changes if c.path == "record.job"]
    # The 2020 file did not list required fields either.
    assert [(c.kind, c.breaking) for c in job] == [("required-added", True), ("enum-added", True)]
    assert "admin." in job[1].new
    assert not [c for c in changes if c.kind == "generation-changed"]


def test_enum_value_removed_is_breaking_and_added_is_not(tmp_path: Path) -> None:
    def edit(record: dict[str, Any]) -> None:
        job = record["properties"]["job"]["enum"]
        job.remove("housemaid")
        job.append("influencer")

    old, new = _changed(edit)
    changes = diff_specs(old, new)
    assert [(c.path, c.kind, c.old, c.new, c.breaking) for c in changes] == [
        ("record.job", "enum-value-removed", "housemaid", None, True),
        ("record.job", "enum-value-added", None, "influencer", False),
    ]
    assert _cli(tmp_path, old, new).exit_code == 1
    result = _cli(tmp_path, new, build_openapi3("C"))
    assert result.exit_code == 1  # going back removes "influencer"
    only_added = diff_specs(*_changed(lambda r: r["properties"]["job"]["enum"].append("influencer")))
    assert [(c.kind, c.breaking) for c in only_added] == [("enum-value-added", False)]
    assert _cli(tmp_path, *_changed(lambda r: r["properties"]["job"]["enum"].append("x"))).exit_code == 0


def test_dropping_an_enum_is_not_breaking() -> None:
    change = _only(diff_specs(*_changed(lambda r: r["properties"]["job"].pop("enum"))))
    assert (change.kind, change.breaking) == ("enum-removed", False)


@pytest.mark.parametrize(
    ("field", "new_type", "breaking"),
    [("age", "string", True), ("age", "number", False), ("euribor3m", "integer", True)],
)
def test_type_changes(field: str, new_type: str, breaking: bool) -> None:
    change = _only(diff_specs(*_changed(lambda r: r["properties"][field].update(type=new_type))))
    assert (change.path, change.kind, change.new, change.breaking) == (
        f"record.{field}",
        "type-changed",
        new_type,
        breaking,
    )


@pytest.mark.parametrize(("new_format", "breaking"), [("int32", True), (None, False)])
def test_format_changes(new_format: str | None, breaking: bool) -> None:
    def edit(record: dict[str, Any]) -> None:
        if new_format is None:
            record["properties"]["age"].pop("format")
        else:
            record["properties"]["age"]["format"] = new_format

    change = _only(diff_specs(*_changed(edit)))
    assert (change.kind, change.old, change.new, change.breaking) == ("format-changed", "int64", new_format, breaking)


def test_required_changes() -> None:
    loosened = _only(diff_specs(*_changed(lambda r: r["required"].remove("age"))))
    assert (loosened.kind, loosened.old, loosened.new, loosened.breaking) == ("required-removed", True, False, False)
    old, new = _changed(lambda r: r["required"].remove("age"))
    tightened = _only(diff_specs(new, old))
    assert (tightened.kind, tightened.breaking) == ("required-added", True)


def test_method_enum_changes_are_judged_like_fields() -> None:
    old = build_openapi3("C")
    new = copy.deepcopy(old)
    new["components"]["schemas"]["ServiceInput"]["properties"]["GlobalParameters"]["properties"]["method"]["enum"] = [
        "predict"
    ]
    change = _only(diff_specs(old, new))
    assert (change.path, change.kind, change.old, change.breaking) == (
        "method",
        "enum-value-removed",
        "predict_proba",
        True,
    )


@pytest.mark.parametrize(
    ("bound", "value", "breaking"),
    [
        ("minimum", 18, True),
        ("minimum", 0, False),
        ("maximum", 90, True),
        ("maximum", 150, False),
        ("maximum", None, False),
    ],
)
def test_range_changes(bound: str, value: int | None, breaking: bool) -> None:
    def edit(record: dict[str, Any]) -> None:
        if value is None:
            record["properties"]["age"].pop(bound)
        else:
            record["properties"]["age"][bound] = value

    change = _only(diff_specs(*_changed(edit)))
    assert (change.path, change.kind, change.new, change.breaking) == (
        "record.age",
        f"{bound}-changed",
        value,
        breaking,
    )


def test_a_new_bound_is_breaking() -> None:
    change = _only(diff_specs(*_changed(lambda r: r["properties"]["nr.employed"].pop("minimum"))))
    assert change.breaking is False
    old, new = _changed(lambda r: r["properties"]["nr.employed"].pop("minimum"))
    assert _only(diff_specs(new, old)).breaking is True


def test_human_report_groups_changes(tmp_path: Path) -> None:
    def edit(record: dict[str, Any]) -> None:
        record["properties"]["age"]["maximum"] = 200
        record["properties"]["job"]["enum"].remove("student")
        del record["properties"]["pdays"]
        record["required"].remove("pdays")

    old, new = _changed(edit)
    text = render_changes(diff_specs(old, new))
    lines = text.splitlines()
    assert lines.index("fields:") < lines.index("enums:") < lines.index("ranges:")
    assert "  ok       record.age maximum changed: 120 -> 200" in lines
    assert '  BREAKING record.job no longer allows "student"' in lines
    assert lines[-1].startswith("3 changes, 2 breaking")


def test_json_output_is_a_list_of_changes(tmp_path: Path) -> None:
    result = _cli(tmp_path, *_changed(lambda r: r["properties"]["age"].update(minimum=0)), "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == [
        {"path": "record.age", "kind": "minimum-changed", "old": 17, "new": 0, "breaking": False}
    ]


def test_a_spec_that_cannot_be_read_exits_2(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text("{not json")
    (tmp_path / "new.json").write_bytes(dump_document(build_openapi3("C")))
    result = CliRunner().invoke(main, ["swagger", "diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")])
    assert result.exit_code == 2
    assert "is not JSON" in result.output
    result = CliRunner().invoke(main, ["swagger", "diff", str(tmp_path / "gone.json"), str(tmp_path / "new.json")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
