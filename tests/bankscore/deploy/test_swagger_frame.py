"""Generation D's schemas in the shipped documents: Microsoft's no-code shape, with the record in x-bankscore."""

from __future__ import annotations

from typing import Any

import pytest

from bankscore.deploy import EXTENSION_KEY, build_openapi3, build_swagger2
from bankscore.features import FEATURE_NAMES, FEATURES

BUILDERS = [build_swagger2, build_openapi3]
NO_DURATION = tuple(f for f in FEATURES if f.wire_name != "duration")


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_d_request_has_microsofts_shape(build: Any, spec_parts: Any) -> None:
    service_input = spec_parts.definitions(build("D"))["ServiceInput"]
    assert "required" not in service_input  # as Microsoft's (the server still answers 400 without input_data)
    frame = service_input["properties"]["input_data"]
    assert frame["format"] == "pandas.DataFrame:split"
    assert frame["required"] == ["columns", "index", "data"]
    assert frame["properties"]["index"]["items"] == {"type": "integer", "format": "int64"}
    params = service_input["properties"]["params"]
    assert params["required"] == ["predict_method"]
    method = params["properties"]["predict_method"]
    assert (method["enum"], method["default"]) == (["predict", "predict_proba"], "predict")
    example = service_input["example"]
    assert example["params"] == {"predict_method": "predict"}
    assert example["input_data"]["columns"] == list(FEATURE_NAMES)
    assert example["input_data"]["index"] == [0, 1]


def test_generation_d_cells_are_any_feature_type_in_openapi3(spec_parts: Any) -> None:
    row = spec_parts.data_schema(build_openapi3("D"))["items"]
    assert row["type"] == "array"
    # anyOf: an integer is a number too, so oneOf would refuse every integer cell
    assert row["items"] == {
        "anyOf": [{"type": "integer", "format": "int64"}, {"type": "number", "format": "double"}, {"type": "string"}]
    }


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_d_record_is_the_one_the_other_generations_carry(build: Any, spec_parts: Any) -> None:
    assert build("D")[EXTENSION_KEY]["record"] == spec_parts.data_schema(build("C"))["items"]
    chosen = build("D", NO_DURATION)[EXTENSION_KEY]["record"]
    assert "duration" not in chosen["properties"] and "duration" not in chosen["required"]


def test_generation_d_output_is_a_bare_array(spec_parts: Any) -> None:
    output = spec_parts.definitions(build_openapi3("D"))["ServiceOutput"]
    assert (output["type"], output["format"], output["example"]) == ("array", "numpy.ndarray", ["no"])
    label, probabilities = output["items"]["oneOf"]
    assert label == {"type": "string", "enum": ["no", "yes"]}
    assert probabilities["required"] == ["no", "yes"] == list(probabilities["properties"])
    assert "predict_proba" in output["description"]
    assert "items" in spec_parts.definitions(build_swagger2("D"))["ServiceOutput"]
