"""The shipped record model, ``BankMarketingRecord``: what it accepts (its bytes are golden-tested in swagger/)."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from bankscore import BankMarketingRecord
from bankscore.features import FEATURES


def test_the_model_follows_the_feature_contract() -> None:
    wire_names = tuple(info.serialization_alias or name for name, info in BankMarketingRecord.model_fields.items())
    assert tuple(f.wire_name for f in FEATURES) == wire_names
    for feature in FEATURES:
        field = BankMarketingRecord.model_fields[feature.python_name]
        assert (field.serialization_alias or feature.python_name) == feature.wire_name
        assert field.description and field.description.startswith(feature.description)
    schema = BankMarketingRecord.model_json_schema(by_alias=True)
    assert schema["properties"]["job"]["enum"] == list(FEATURES[1].categories)
    assert (
        schema["properties"]["age"] | {"minimum": 17, "maximum": 120, "type": "integer"} == schema["properties"]["age"]
    )


def test_python_names_wire_names_and_frozen(shipped: list[dict[str, Any]]) -> None:
    record = BankMarketingRecord.model_validate(shipped[0])
    assert record.model_dump(by_alias=True) == shipped[0]
    by_name = BankMarketingRecord(**{f.python_name: shipped[0][f.wire_name] for f in FEATURES})
    assert by_name == record
    with pytest.raises(pydantic.ValidationError):
        record.age = 30  # type: ignore[misc]
    assert json.loads(record.model_dump_json(by_alias=True))["nr.employed"] == shipped[0]["nr.employed"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("age", "41"),  # a string is not an integer on the wire
        ("age", True),
        ("age", 41.5),
        ("age", 16),
        ("job", "astronaut"),
        ("emp.var.rate", float("nan")),
        ("emp.var.rate", 11.0),
        ("nr.employed", "5099.1"),
    ],
)
def test_values_azure_would_refuse_are_refused(field: str, value: Any, shipped: list[dict[str, Any]]) -> None:
    with pytest.raises(pydantic.ValidationError):
        BankMarketingRecord.model_validate({**shipped[0], field: value})


def test_unknown_fields_are_refused(shipped: list[dict[str, Any]]) -> None:
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        BankMarketingRecord.model_validate({**shipped[0], "y": "no"})
