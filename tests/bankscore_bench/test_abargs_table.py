"""The option table and AbOptions agree: every flag sets a real field with a value of the field's type."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path

import pytest

from bankscore_bench._abargs import parse_ab_args
from bankscore_bench._aboptions import OPTIONS, AbOptions, AbUsageError

GOLDEN = Path(__file__).parent / "fixtures" / "abargs_golden.json"


def _conforms(value: object, hint: object) -> bool:
    """Whether ``value`` is of the annotated type (the few forms AbOptions' annotations use)."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType:
        return any(_conforms(value, arm) for arm in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(item, args[0]) for item in value)
        return len(value) == len(args) and all(_conforms(item, arg) for item, arg in zip(value, args, strict=True))
    if hint is type(None):
        return value is None
    # bool is an int to isinstance; a flag that gave 1 for True would be a real difference.
    return type(value) is hint


def _golden_vectors() -> list[tuple[str, list[str]]]:
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))["parse"]
    return [(key[0], key[1:]) for key in map(json.loads, recorded)]


def test_every_declared_option_sets_a_field_and_every_field_but_the_url_has_one() -> None:
    fields = {field.name for field in dataclasses.fields(AbOptions)}
    declared = [spec.field for spec in OPTIONS if spec.field]

    assert len(declared) == len(set(declared)), "two options set the same field"
    assert set(declared) == fields - {"url"}


def test_option_names_are_unique_and_implied_options_exist() -> None:
    names = [name for spec in OPTIONS for name in spec.names]
    known = set(names)

    assert len(names) == len(known)
    for spec in OPTIONS:
        assert spec.names, spec
        assert all(implied in known for implied, _ in spec.implies), spec


def test_refused_flags_set_no_field_and_are_not_listed() -> None:
    refused = [spec for spec in OPTIONS if not spec.field]

    assert {spec.short for spec in refused} == set("wxyzbBIZfE")
    assert all(not spec.help for spec in refused)


def test_defaults_have_the_fields_types() -> None:
    hints = typing.get_type_hints(AbOptions)
    defaults = AbOptions()

    for field in dataclasses.fields(AbOptions):
        assert _conforms(getattr(defaults, field.name), hints[field.name]), field.name


@pytest.mark.parametrize(("prog", "argv"), _golden_vectors(), ids=repr)
def test_parsed_values_have_the_fields_types(prog: str, argv: list[str]) -> None:
    """The one step mypy cannot follow: converted values travel to AbOptions(**values) by field name."""
    hints = typing.get_type_hints(AbOptions)
    try:
        options = parse_ab_args(argv, prog=prog)
    except AbUsageError:
        return

    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        assert _conforms(value, hints[field.name]), (field.name, value)
