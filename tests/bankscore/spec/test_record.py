"""The record rules, once: models built at run time validate exactly as the generator's ``Record`` does."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pydantic
import pytest

from bankscore._spec import python_name, record_description, record_fields, record_model
from bankscore.swagger import generate_package, load_document

ROOT = Path(__file__).resolve().parents[3]
_SHARED = os.environ.get("BANKSCORE_SWAGGER_SAMPLES") or str(ROOT.parent / "shared" / "azure" / "swagger-samples")
DATA = ROOT / "tests" / "bankscore" / "swagger" / "data"
SAMPLES = sorted(Path(_SHARED).glob("*.json")) if Path(_SHARED).is_dir() else sorted(DATA.glob("*__swagger.json"))
SPECS = [*SAMPLES, ROOT / "swagger" / "openapi3.json"]


@pytest.mark.parametrize(
    "wire",
    [
        "age",
        "emp.var.rate",
        "nr.employed",
        "day_of_week",
        "ageGroup",
        "HTTPStatus",
        "class",
        "type",
        "id",
        "2nd",
        "_hidden",
        "a-b c",
        "Unnamed: 0",
        "euribor3m",
        "y",
    ],
)
def test_python_names_are_the_generators(wire: str) -> None:
    from openapi_python_client.strings import PythonIdentifier

    assert python_name(wire) == PythonIdentifier(wire, "field_")


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the module's annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.name[:40])
def test_the_runtime_model_is_the_generated_model(spec_path: Path, tmp_path: Path) -> None:
    document = load_document(spec_path)
    package = generate_package(document, tmp_path / "same_client", source=spec_path.name).path
    generated = _load(package / "models" / "record.py", "same_client_record").Record
    built = record_model(record_fields(document), "Record", doc=record_description(document))
    assert built.model_json_schema(by_alias=True) == generated.model_json_schema(by_alias=True)
    assert built.model_config == generated.model_config
    plain = {"integer": 1, "number": 1.5, "string": "text", "boolean": True, "any": None}
    sample = {
        f.wire_name: f.enum[0] if f.enum else f.minimum if f.minimum is not None else plain[f.type]
        for f in record_fields(document)
    }
    assert built.model_validate(sample).model_dump(by_alias=True) == generated.model_validate(sample).model_dump(
        by_alias=True
    )
    for bad in ({**sample, "unknown": 1}, dict.fromkeys(sample, "text")):
        with pytest.raises(pydantic.ValidationError) as built_error:
            built.model_validate(bad)
        with pytest.raises(pydantic.ValidationError) as generated_error:
            generated.model_validate(bad)
        assert built_error.value.errors(include_url=False) == generated_error.value.errors(include_url=False)
