"""The pydantic record model: generated from the pinned spec, byte for byte, and what it accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest

from bankscore import BankMarketingRecord
from bankscore._models_generated import SPEC_GENERATION, WIRE_NAMES
from bankscore.features import FEATURES
from bankscore.swagger import PINNED_SPEC
from bankscore.swagger._models import MODELS_FILE, generate_models, render_models

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = Path(__file__).resolve().parents[1] / "swagger" / "data"


def test_regenerating_gives_the_committed_models_byte_for_byte(tmp_path: Path) -> None:
    fresh = generate_models(PINNED_SPEC, tmp_path / "_models_generated.py")
    assert fresh.read_bytes() == MODELS_FILE.read_bytes(), "run `python -m bankscore.swagger._models` and commit"


def test_the_generated_module_is_lint_clean_and_formatted(tmp_path: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():
        pytest.skip("ruff is not installed beside this interpreter")
    for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
        proc = subprocess.run([ruff, *args, str(MODELS_FILE)], capture_output=True, text=True, cwd=ROOT, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_spec_sample_renders_an_importable_model(tmp_path: Path) -> None:
    from bankscore.swagger import load_document

    for sample in sorted(SAMPLES.glob("*__swagger.json")):
        text = render_models(load_document(sample), source=sample.name)
        namespace: dict[str, Any] = {}
        exec(compile(text, sample.name, "exec"), namespace)
        model = namespace["BankMarketingRecord"]
        assert "emp_var_rate" in model.model_fields
        assert model.model_fields["emp_var_rate"].serialization_alias == "emp.var.rate"


def test_the_model_follows_the_feature_contract() -> None:
    assert tuple(f.wire_name for f in FEATURES) == WIRE_NAMES
    assert SPEC_GENERATION == "C"
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
