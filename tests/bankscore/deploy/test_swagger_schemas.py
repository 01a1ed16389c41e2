"""The schemas of the shipped documents: the feature contract's detail in every record, and the request and
response bodies of generations A, B and C."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bankscore.deploy import (
    EXTENSION_KEY,
    SCORING_METHODS,
    WireGeneration,
    build_openapi3,
    build_swagger2,
    swagger_files,
)
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL, Feature, FeatureKind, check_record

GENERATIONS = list(WireGeneration)
BUILDERS = [build_swagger2, build_openapi3]
NO_DURATION = tuple(f for f in FEATURES if f.wire_name != "duration")
WIRE_TYPES = {
    FeatureKind.INTEGER: ("integer", "int64"),
    FeatureKind.NUMBER: ("number", "double"),
    FeatureKind.CATEGORY: ("string", None),
}


# --- the feature contract ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_data_holds_one_to_ten_thousand_records(generation: WireGeneration, build: Any, spec_parts: Any) -> None:
    from bankscore.deploy.bankscore_scoring import facts

    data = spec_parts.data_schema(build(generation))
    assert (data["minItems"], data["maxItems"]) == (1, 10_000) == (1, facts.DEFAULT_MAX_RECORDS)
    assert "(1 to 10,000)" in data["description"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("feat", FEATURES, ids=lambda f: f.wire_name)
def test_every_feature_carries_the_contract(
    generation: WireGeneration, build: Any, feat: Feature, spec_parts: Any
) -> None:
    schema = spec_parts.record_schema(build(generation))["properties"][feat.wire_name]
    wire_type, wire_format = WIRE_TYPES[feat.kind]
    assert schema["type"] == wire_type
    assert schema.get("format") == wire_format
    assert schema["description"].startswith(feat.description)
    if feat.categories:
        assert schema["enum"] == list(feat.categories)
    else:
        assert "enum" not in schema
        assert schema["minimum"] == feat.minimum
        assert schema["maximum"] == feat.maximum
        assert type(schema["minimum"]) is (int if feat.kind is FeatureKind.INTEGER else float)


def test_duration_description_carries_the_leakage_note(spec_parts: Any) -> None:
    duration = next(f for f in FEATURES if f.wire_name == "duration")
    schema = spec_parts.record_schema(build_openapi3("C"))["properties"]["duration"]
    assert duration.note
    assert duration.note in schema["description"]
    assert "leaks" in schema["description"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_record_is_closed_and_complete(generation: WireGeneration, build: Any, spec_parts: Any) -> None:
    record = spec_parts.record_schema(build(generation))
    assert record["required"] == list(FEATURE_NAMES)
    assert list(record["properties"]) == list(FEATURE_NAMES)
    assert record["additionalProperties"] is False


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("features", [FEATURES, NO_DURATION], ids=["all", "no-duration"])
def test_example_row_passes_the_contract(
    generation: WireGeneration, build: Any, features: tuple[Feature, ...], spec_parts: Any
) -> None:
    rows = spec_parts.example_rows(build(generation, features))
    assert len(rows) == (2 if generation is WireGeneration.D else 1)  # D: two rows, as Microsoft's example
    for row in rows:
        typed, problems = check_record(row, features)
        assert problems == []
        assert typed == row
    assert rows[0] == {f.wire_name: f.example for f in features}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_excluding_duration_removes_it_everywhere(generation: WireGeneration, spec_parts: Any) -> None:
    files = swagger_files(generation, NO_DURATION)
    for data in files.values():
        text = data.decode("utf-8")
        assert '"duration"' not in text
        doc = json.loads(text)
        assert "duration" not in spec_parts.record_schema(doc)["properties"]
        assert "duration" not in spec_parts.record_schema(doc)["required"]
        assert "duration" not in spec_parts.example_rows(doc)[0]
        assert "duration" not in doc[EXTENSION_KEY]["features"]
        assert len(spec_parts.record_schema(doc)["properties"]) == len(FEATURES) - 1


def test_only_the_given_features_in_their_order(spec_parts: Any) -> None:
    chosen = (FEATURES[3], FEATURES[0])
    doc = build_openapi3("A", chosen)
    assert spec_parts.record_schema(doc)["required"] == ["education", "age"]
    assert doc[EXTENSION_KEY]["features"] == ["education", "age"]


# --- request and response bodies per generation -----------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_a_request(build: Any, spec_parts: Any) -> None:
    service_input = spec_parts.definitions(build("A"))["ServiceInput"]
    assert service_input["required"] == ["data"]
    assert list(service_input["example"]) == ["data"]


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_b_request(build: Any, spec_parts: Any) -> None:
    service_input = spec_parts.definitions(build("B"))["ServiceInput"]
    method = service_input["properties"]["method"]
    assert service_input["required"] == ["data"]  # method is optional: run(data, method="predict")
    assert method["enum"] == list(SCORING_METHODS) == ["predict", "predict_proba"]
    assert method["default"] == "predict"
    assert service_input["example"]["method"] == "predict"


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_c_request(build: Any, spec_parts: Any) -> None:
    service_input = spec_parts.definitions(build("C"))["ServiceInput"]
    assert service_input["required"] == ["Inputs"]  # GlobalParameters may be left out
    assert service_input["properties"]["Inputs"]["required"] == ["data"]
    global_parameters = service_input["properties"]["GlobalParameters"]
    assert global_parameters["required"] == ["method"]  # but {} gives 500
    assert global_parameters["properties"]["method"]["enum"] == ["predict", "predict_proba"]
    assert service_input["example"]["GlobalParameters"] == {"method": "predict"}


@pytest.mark.parametrize("generation", ["A", "B"])
@pytest.mark.parametrize("build", BUILDERS)
def test_double_encoded_output_is_described_as_a_string(generation: str, build: Any, spec_parts: Any) -> None:
    output = spec_parts.definitions(build(generation))["ServiceOutput"]
    assert output["type"] == "string"
    assert "JSON string" in output["description"]
    assert json.loads(output["example"]) == {"result": ["no"]}
    assert ("predict_proba" in output["description"]) is (generation == "B")


def test_generation_c_output_in_openapi3(spec_parts: Any) -> None:
    output = spec_parts.definitions(build_openapi3("C"))["ServiceOutput"]
    assert output["required"] == ["Results"]
    label, probabilities = output["properties"]["Results"]["items"]["oneOf"]
    assert label == {"type": "string", "enum": list(LABEL.classes)}
    assert probabilities["items"]["type"] == "number"
    assert probabilities["minItems"] == probabilities["maxItems"] == 2
    assert output["example"] == {"Results": ["no"]}
