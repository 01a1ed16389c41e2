"""The feature contract against the UCI data dictionary and the shipped data."""

from __future__ import annotations

import csv
import gzip
import io
import re
from importlib import resources

import pytest

from bankscore.features import (
    FEATURE_NAMES,
    FEATURES,
    LABEL,
    FeatureKind,
    ValueProblem,
    check_record,
    feature,
    parse_value,
)


def _dictionary() -> str:
    raw = resources.files("bankscore.data").joinpath("bank-additional-names.txt").read_bytes()
    return raw.decode("utf-8-sig")


def _dictionary_entries() -> dict[str, str]:
    """Attribute number lines of section 7: '  9 - month: ...' -> {'month': '...'}."""
    entries = {}
    for match in re.finditer(r"^\s*\d+ - ([\w.]+)\s*:?\s*(.*)$", _dictionary(), flags=re.MULTILINE):
        entries[match.group(1)] = match.group(2)
    return entries


def _shipped_rows() -> list[dict[str, str]]:
    raw = resources.files("bankscore.data").joinpath("bankmarketing_train.csv.gz").read_bytes()
    return list(csv.DictReader(io.StringIO(gzip.decompress(raw).decode())))


def test_twenty_features_in_the_dictionarys_order() -> None:
    entries = _dictionary_entries()
    assert len(FEATURES) == 20
    assert list(entries)[:20] == list(FEATURE_NAMES)
    assert list(entries)[20] == LABEL.name


def test_names_are_unique_and_python_names_are_identifiers() -> None:
    assert len(set(FEATURE_NAMES)) == 20
    assert len({f.python_name for f in FEATURES}) == 20
    for f in FEATURES:
        assert f.python_name.isidentifier()
        assert f.python_name == f.wire_name.replace(".", "_")
    assert feature("emp_var_rate") is feature("emp.var.rate")
    with pytest.raises(KeyError, match="'salary' is not a Bank Marketing feature"):
        feature("salary")


def test_categories_are_exactly_the_dictionarys() -> None:
    entries = _dictionary_entries()
    for f in FEATURES:
        text = entries[f.wire_name]
        if f.kind is not FeatureKind.CATEGORY:
            assert "numeric" in text, f.wire_name
            continue
        listed = re.findall(r'"([^"]+)"', text.split("; note")[0])  # marital's note quotes a category
        if f.wire_name == "month":  # the dictionary abbreviates: "jan", "feb", "mar", ..., "nov", "dec"
            assert listed == ["jan", "feb", "mar", "nov", "dec"]
            assert len(f.categories) == 12 and f.categories[:3] == ("jan", "feb", "mar")
        else:
            assert sorted(listed) == sorted(f.categories), f.wire_name


def test_numeric_wire_types_follow_azures_swagger() -> None:
    integers = {f.wire_name for f in FEATURES if f.kind is FeatureKind.INTEGER}
    numbers = {f.wire_name for f in FEATURES if f.kind is FeatureKind.NUMBER}
    assert integers == {"age", "duration", "campaign", "pdays", "previous"}
    assert numbers == {"emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed"}
    for f in FEATURES:
        if f.is_numeric:
            assert f.minimum is not None and f.maximum is not None and f.minimum < f.maximum


def test_every_category_in_the_shipped_data_is_allowed() -> None:
    rows = _shipped_rows()
    assert len(rows) == 32_950
    for f in FEATURES:
        if f.kind is FeatureKind.CATEGORY:
            seen = {row[f.wire_name] for row in rows}
            assert seen <= set(f.categories), (f.wire_name, seen - set(f.categories))
    assert {row["y"] for row in rows} == set(LABEL.classes)


def test_every_shipped_value_is_inside_the_contract() -> None:
    for row in _shipped_rows():
        typed, problems = check_record(row, allow_label=True)
        assert problems == [], row
        assert len(typed) == 21


def test_duration_is_marked_as_leaking_the_label() -> None:
    leaking = [f for f in FEATURES if f.leaks_label]
    assert [f.wire_name for f in leaking] == ["duration"]
    assert "only known after the call" in leaking[0].note
    assert all(f.description for f in FEATURES)


def test_label() -> None:
    assert LABEL.name == "y"
    assert LABEL.classes == ("no", "yes") and LABEL.positive == "yes"


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("age", "41", 41),
        ("age", 41, 41),
        ("age", 41.0, 41),
        ("age", " 41 ", 41),
        ("emp.var.rate", "-1.8", -1.8),
        ("emp.var.rate", 1, 1.0),
        ("nr.employed", "5191", 5191.0),
        ("job", "admin.", "admin."),
        ("month", "jan", "jan"),
    ],
)
def test_parse_value_accepts(name: str, raw: object, expected: object) -> None:
    value = parse_value(feature(name), raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("age", "forty", "must be an integer"),
        ("age", 41.5, "must be an integer"),
        ("age", True, "must be an integer"),
        ("age", None, "must be an integer"),
        ("age", 16, "outside the range 17..120"),
        ("age", "121", "outside the range 17..120"),
        ("campaign", 0, "outside the range 1..1000"),
        ("euribor3m", "nan", "must be a finite number"),
        ("euribor3m", float("inf"), "must be a finite number"),
        ("emp.var.rate", [1], "must be a number"),
        ("job", "astronaut", "is not one of admin., blue-collar"),
        ("job", "Admin.", "is not one of"),
        ("month", 5, "must be a string"),
    ],
)
def test_parse_value_refuses_with_field_and_value(name: str, raw: object, reason: str) -> None:
    problem = parse_value(feature(name), raw)
    assert isinstance(problem, ValueProblem)
    assert problem.field == name
    assert problem.value == raw or (raw != raw)  # nan compares unequal to itself
    assert reason in problem.reason
    assert str(problem).startswith(f"{name}={raw!r}: ")


def test_check_record_takes_python_or_wire_names() -> None:
    row = _shipped_rows()[0]
    del row["y"]
    by_python = {feature(k).python_name: v for k, v in row.items()}
    typed_wire, problems_wire = check_record(row)
    typed_python, problems_python = check_record(by_python)
    assert problems_wire == problems_python == []
    assert typed_wire == typed_python
    assert list(typed_wire) == list(FEATURE_NAMES)


def test_check_record_reports_every_problem() -> None:
    row = _shipped_rows()[0]
    del row["y"]
    del row["age"]
    row["job"] = "astronaut"
    row["salary"] = "1000"
    row["emp_var_rate"] = "1.1"  # repeats emp.var.rate under its Python name
    _, problems = check_record(row)
    described = {(p.field, p.reason.split(" ")[0]) for p in problems}
    assert ("age", "is") in described  # is missing
    assert ("job", "is") in described
    assert ("salary", "is") in described
    assert ("emp_var_rate", "repeats") in described
    assert len(problems) == 4


def test_check_record_refuses_the_label_unless_allowed() -> None:
    row = _shipped_rows()[0]
    _, problems = check_record(row)
    assert [p.field for p in problems] == ["y"]
    row["y"] = "maybe"
    _, problems = check_record(row, allow_label=True)
    assert [(p.field, p.value) for p in problems] == [("y", "maybe")]
