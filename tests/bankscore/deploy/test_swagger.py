"""The shipped Swagger 2.0 / OpenAPI 3.0.3 documents: the real server's shape, the feature contract's detail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankscore.deploy import (
    EXTENSION_KEY,
    SCORING_METHODS,
    SWAGGER2_FILE,
    SWAGGER3_FILE,
    WireGeneration,
    build_openapi3,
    build_swagger2,
    swagger_files,
)
from bankscore.features import FEATURE_NAMES, FEATURES, LABEL, Feature, FeatureKind, check_record

Json = dict[str, Any]

GENERATIONS = list(WireGeneration)
RECORD_GENERATIONS = [g for g in WireGeneration if g is not WireGeneration.D]  # bodies holding records
BUILDERS = [build_swagger2, build_openapi3]
NO_DURATION = tuple(f for f in FEATURES if f.wire_name != "duration")

# The skeleton of the specs the real server (azmlinfsrv 1.5.1) generates for each wire generation, written out
# here so that the test runs without those files; test_matches_real_samples compares the files themselves
# when BANKSCORE_SWAGGER_SAMPLES points at a folder of them.
OPERATIONS = {
    ("/", "get"): "ServiceHealthCheck",
    ("/score", "post"): "RunMLService",
    ("/swagger.json", "get"): "GetSwaggerSpec",
}
DEFINITIONS = ["ServiceInput", "ServiceOutput", "ErrorResponse"]
BEARER = {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
TOP_KEYS = {
    "2.0": ["swagger", "info", "schemes", "consumes", "produces", "securityDefinitions", "paths", "definitions"],
    "3.0.3": ["openapi", "info", "security", "paths", "components"],
}
INPUT_KEYS = {
    "A": ["data"],
    "B": ["data", "method"],
    "C": ["Inputs", "GlobalParameters"],
    "D": ["input_data", "params"],
}
WIRE_TYPES = {
    FeatureKind.INTEGER: ("integer", "int64"),
    FeatureKind.NUMBER: ("number", "double"),
    FeatureKind.CATEGORY: ("string", None),
}
SAMPLE_NAMES = {"A": "genA-data", "B": "genB-data-method", "C": "genC-Inputs-GlobalParameters"}


def definitions(doc: Json) -> Json:
    found: Json = doc["definitions"] if "swagger" in doc else doc["components"]["schemas"]
    return found


def is_frame(doc: Json) -> bool:
    """Generation D: the body holds a pandas split frame, not records."""
    return "input_data" in definitions(doc)["ServiceInput"]["properties"]


def frame_schema(doc: Json) -> Json:
    frame: Json = definitions(doc)["ServiceInput"]["properties"]["input_data"]
    return frame


def data_schema(doc: Json) -> Json:
    body: Json = definitions(doc)["ServiceInput"]["properties"]
    if "Inputs" in body:
        body = body["Inputs"]["properties"]
    elif "input_data" in body:
        body = body["input_data"]["properties"]
    data: Json = body["data"]
    return data


def record_schema(doc: Json) -> Json:
    """One record's schema: data's items, or in generation D the x-bankscore extension's (a row is untyped)."""
    record: Json = doc[EXTENSION_KEY]["record"] if is_frame(doc) else data_schema(doc)["items"]
    return record


def example_rows(doc: Json) -> list[Json]:
    example = definitions(doc)["ServiceInput"]["example"]
    if "input_data" in example:
        frame = example["input_data"]
        return [dict(zip(frame["columns"], row, strict=True)) for row in frame["data"]]
    rows: list[Json] = example["Inputs"]["data"] if "Inputs" in example else example["data"]
    return rows


def skeleton(doc: Json) -> Json:
    """What bankscore's documents must share with the real server's: everything a tool may key on."""
    version = doc.get("swagger") or doc["openapi"]
    record = record_schema(doc)
    service_input = definitions(doc)["ServiceInput"]
    score = doc["paths"]["/score"]["post"]
    shape: Json = {
        "version": version,
        "top_keys": [k for k in doc if not k.startswith("x-")],
        "info_keys": list(doc["info"]),
        "info_version": doc["info"]["version"],
        "operations": {(p, m): op["operationId"] for p, ops in doc["paths"].items() for m, op in ops.items()},
        "paths": list(doc["paths"]),
        "score_security": score["security"],
        "top_security": doc.get("security"),
        "bearer": (doc.get("securityDefinitions") or doc["components"]["securitySchemes"])["Bearer"],
        "definitions": list(definitions(doc)),
        "input_keys": list(service_input["properties"]),
        "record_required": record["required"],
        "record_types": {n: (s["type"], s.get("format")) for n, s in record["properties"].items()},
        "data_format": (frame_schema(doc) if is_frame(doc) else data_schema(doc))["format"],
        "error_keys": list(definitions(doc)["ErrorResponse"]["properties"]),
        "spec_param": doc["paths"]["/swagger.json"]["get"]["parameters"][0]["name"],
    }
    if version == "2.0":
        shape["media"] = (doc["schemes"], doc["consumes"], doc["produces"])
        shape["body_param"] = (score["parameters"][0]["name"], score["parameters"][0]["in"])
    if "Inputs" in service_input["properties"]:
        globals_ = service_input["properties"]["GlobalParameters"]
        shape["global_keys"] = (list(globals_["properties"]), globals_["required"])
    return shape


def expected_skeleton(generation: str, version: str) -> Json:
    shape: Json = {
        "version": version,
        "top_keys": TOP_KEYS[version],
        "info_keys": ["title", "description", "version"],
        "info_version": "1.0",
        "operations": OPERATIONS,
        "paths": ["/", "/score", "/swagger.json"],
        "score_security": [{"Bearer": []}],
        "top_security": None if version == "2.0" else [{"Bearer": []}],
        "bearer": BEARER,
        "definitions": DEFINITIONS,
        "input_keys": INPUT_KEYS[generation],
        "record_required": list(FEATURE_NAMES),
        "record_types": {f.wire_name: WIRE_TYPES[f.kind] for f in FEATURES},
        "data_format": "pandas.DataFrame:split" if generation == "D" else "pandas.DataFrame:records",
        "error_keys": ["message"],
        "spec_param": "version",
    }
    if version == "2.0":
        shape["media"] = (["https"], ["application/json"], ["application/json"])
        shape["body_param"] = ("serviceInputPayload", "body")
    if generation == "C":
        shape["global_keys"] = (["method"], ["method"])
    return shape


def walk(node: object) -> Iterator[tuple[str, object]]:
    """Every (key, value) pair anywhere in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def resolve(doc: Json, ref: str) -> object:
    assert ref.startswith("#/"), ref
    node: object = doc
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve at {part!r}"
        node = node[part]
    return node


# --- the real server's shape ---------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(("build", "version"), [(build_swagger2, "2.0"), (build_openapi3, "3.0.3")])
def test_skeleton_is_the_real_servers(generation: WireGeneration, build: Any, version: str) -> None:
    assert skeleton(build(generation)) == expected_skeleton(generation, version)


@pytest.mark.skipif(not os.environ.get("BANKSCORE_SWAGGER_SAMPLES"), reason="BANKSCORE_SWAGGER_SAMPLES not set")
@pytest.mark.parametrize("generation", RECORD_GENERATIONS)  # D: test_gen_d.py compares Microsoft's files
@pytest.mark.parametrize(("build", "suffix"), [(build_swagger2, "swagger2"), (build_openapi3, "openapi3")])
def test_matches_real_samples(generation: WireGeneration, build: Any, suffix: str) -> None:
    """Against the real server's own spec files, in the folder BANKSCORE_SWAGGER_SAMPLES names."""
    folder = Path(os.environ["BANKSCORE_SWAGGER_SAMPLES"])
    name = f"LOCAL-GENERATED__azmlinfsrv-1.5.1__{SAMPLE_NAMES[generation]}__{suffix}.json"
    sample = json.loads((folder / name).read_text(encoding="utf-8"))
    ours = build(generation, title=sample["info"]["title"])
    assert skeleton(ours) == skeleton(sample)
    assert ours["info"]["description"].startswith(sample["info"]["description"])
    # The operations the contract does not enrich are the server's own, word for word, except the media type of
    # their 200 answer: the real files say text/plain, the server answers text/html and JSON.
    for path in ("/", "/swagger.json"):
        mine, theirs = (without_media(doc["paths"][path]["get"]) for doc in (ours, sample))
        assert {k: v for k, v in mine.items() if k != "security"} == theirs


def without_media(operation: Json) -> Json:
    """The operation without its 200 answer's media type (its description stays)."""
    ok = {k: v for k, v in operation["responses"]["200"].items() if k not in ("content", "schema", "examples")}
    rest = {k: v for k, v in operation.items() if k not in ("responses", "produces")}
    return {**rest, "responses": {**operation["responses"], "200": ok}}


@pytest.mark.parametrize("build", BUILDERS)
def test_info_names_the_deployment(build: Any) -> None:
    doc = build("C", title="bankmarketing-automl", model_version="7")
    assert doc["info"]["title"] == "bankmarketing-automl"
    assert doc["info"]["version"] == "1.0"
    assert doc["info"]["description"].startswith(
        "API specification for the Azure Machine Learning service bankmarketing-automl"
    )
    assert "model version 7" in doc["info"]["description"]


def test_openapi3_health_and_spec_need_no_key() -> None:
    paths = build_openapi3("C")["paths"]
    assert paths["/"]["get"]["security"] == []
    assert paths["/swagger.json"]["get"]["security"] == []
    assert paths["/"]["get"]["responses"]["200"]["content"]["text/html"]["schema"]["example"] == "Healthy"


@pytest.mark.parametrize("generation", GENERATIONS)
def test_health_and_spec_media_types_are_what_the_server_answers(generation: WireGeneration) -> None:
    # Flask sends the health check's plain "Healthy" as text/html; the spec comes as JSON (an object).
    openapi3 = build_openapi3(generation)["paths"]
    assert list(openapi3["/"]["get"]["responses"]["200"]["content"]) == ["text/html"]
    assert openapi3["/swagger.json"]["get"]["responses"]["200"]["content"] == {
        "application/json": {"schema": {"type": "object"}}
    }
    swagger2 = build_swagger2(generation)["paths"]
    assert swagger2["/"]["get"]["produces"] == ["text/html"]
    assert swagger2["/"]["get"]["responses"]["200"]["examples"] == {"text/html": "Healthy"}
    assert "produces" not in swagger2["/swagger.json"]["get"]  # the document's application/json
    assert swagger2["/swagger.json"]["get"]["responses"]["200"]["schema"] == {"type": "object"}


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_data_holds_one_to_ten_thousand_records(generation: WireGeneration, build: Any) -> None:
    from bankscore.deploy.bankscore_scoring import facts

    data = data_schema(build(generation))
    assert (data["minItems"], data["maxItems"]) == (1, 10_000) == (1, facts.DEFAULT_MAX_RECORDS)
    assert "(1 to 10,000)" in data["description"]


@pytest.mark.parametrize("generation", GENERATIONS)
def test_score_documents_error_responses(generation: WireGeneration) -> None:
    for doc in (build_swagger2(generation), build_openapi3(generation)):
        responses = doc["paths"]["/score"]["post"]["responses"]
        assert list(responses) == ["200", "400", "401", "413", "default"]
        for code in ("400", "401", "413", "default"):
            response = responses[code]
            schema = response["schema"] if "swagger" in doc else response["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorResponse")
            assert response["description"]


def test_request_body_is_required() -> None:
    assert build_swagger2("A")["paths"]["/score"]["post"]["parameters"][0]["required"] is True
    assert build_openapi3("A")["paths"]["/score"]["post"]["requestBody"]["required"] is True


# --- the feature contract --------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("feat", FEATURES, ids=lambda f: f.wire_name)
def test_every_feature_carries_the_contract(generation: WireGeneration, build: Any, feat: Feature) -> None:
    schema = record_schema(build(generation))["properties"][feat.wire_name]
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


def test_duration_description_carries_the_leakage_note() -> None:
    duration = next(f for f in FEATURES if f.wire_name == "duration")
    schema = record_schema(build_openapi3("C"))["properties"]["duration"]
    assert duration.note
    assert duration.note in schema["description"]
    assert "leaks" in schema["description"]


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_record_is_closed_and_complete(generation: WireGeneration, build: Any) -> None:
    record = record_schema(build(generation))
    assert record["required"] == list(FEATURE_NAMES)
    assert list(record["properties"]) == list(FEATURE_NAMES)
    assert record["additionalProperties"] is False


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("features", [FEATURES, NO_DURATION], ids=["all", "no-duration"])
def test_example_row_passes_the_contract(generation: WireGeneration, build: Any, features: tuple[Feature, ...]) -> None:
    rows = example_rows(build(generation, features))
    assert len(rows) == (2 if generation is WireGeneration.D else 1)  # D: two rows, as Microsoft's example
    for row in rows:
        typed, problems = check_record(row, features)
        assert problems == []
        assert typed == row
    assert rows[0] == {f.wire_name: f.example for f in features}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_excluding_duration_removes_it_everywhere(generation: WireGeneration) -> None:
    files = swagger_files(generation, NO_DURATION)
    for data in files.values():
        text = data.decode("utf-8")
        assert '"duration"' not in text
        doc = json.loads(text)
        assert "duration" not in record_schema(doc)["properties"]
        assert "duration" not in record_schema(doc)["required"]
        assert "duration" not in example_rows(doc)[0]
        assert "duration" not in doc[EXTENSION_KEY]["features"]
        assert len(record_schema(doc)["properties"]) == len(FEATURES) - 1


def test_only_the_given_features_in_their_order() -> None:
    chosen = (FEATURES[3], FEATURES[0])
    doc = build_openapi3("A", chosen)
    assert record_schema(doc)["required"] == ["education", "age"]
    assert doc[EXTENSION_KEY]["features"] == ["education", "age"]


# --- request and response bodies per generation --------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_a_request(build: Any) -> None:
    service_input = definitions(build("A"))["ServiceInput"]
    assert service_input["required"] == ["data"]
    assert list(service_input["example"]) == ["data"]


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_b_request(build: Any) -> None:
    service_input = definitions(build("B"))["ServiceInput"]
    method = service_input["properties"]["method"]
    assert service_input["required"] == ["data"]  # method is optional: run(data, method="predict")
    assert method["enum"] == list(SCORING_METHODS) == ["predict", "predict_proba"]
    assert method["default"] == "predict"
    assert service_input["example"]["method"] == "predict"


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_c_request(build: Any) -> None:
    service_input = definitions(build("C"))["ServiceInput"]
    assert service_input["required"] == ["Inputs"]  # GlobalParameters may be left out
    assert service_input["properties"]["Inputs"]["required"] == ["data"]
    global_parameters = service_input["properties"]["GlobalParameters"]
    assert global_parameters["required"] == ["method"]  # but {} gives 500
    assert global_parameters["properties"]["method"]["enum"] == ["predict", "predict_proba"]
    assert service_input["example"]["GlobalParameters"] == {"method": "predict"}


@pytest.mark.parametrize("generation", ["A", "B"])
@pytest.mark.parametrize("build", BUILDERS)
def test_double_encoded_output_is_described_as_a_string(generation: str, build: Any) -> None:
    output = definitions(build(generation))["ServiceOutput"]
    assert output["type"] == "string"
    assert "JSON string" in output["description"]
    assert json.loads(output["example"]) == {"result": ["no"]}
    assert ("predict_proba" in output["description"]) is (generation == "B")


def test_generation_c_output_in_openapi3() -> None:
    output = definitions(build_openapi3("C"))["ServiceOutput"]
    assert output["required"] == ["Results"]
    label, probabilities = output["properties"]["Results"]["items"]["oneOf"]
    assert label == {"type": "string", "enum": list(LABEL.classes)}
    assert probabilities["items"]["type"] == "number"
    assert probabilities["minItems"] == probabilities["maxItems"] == 2
    assert output["example"] == {"Results": ["no"]}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_swagger2_has_no_openapi3_constructs(generation: WireGeneration) -> None:
    keys = {key for key, _ in walk(build_swagger2(generation))}
    assert not keys & {"oneOf", "anyOf", "nullable", "components", "requestBody", "content"}


# --- the x-bankscore extension ---------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_extension_names_generation_version_and_features(generation: WireGeneration, build: Any) -> None:
    doc = build(generation, model_version="12")
    extension = {k: v for k, v in doc[EXTENSION_KEY].items() if k != "record"}
    assert extension == {"generation": str(generation), "model_version": "12", "features": list(FEATURE_NAMES)}
    # Only D carries the record there: A, B and C have it as data.items already.
    assert ("record" in doc[EXTENSION_KEY]) is (generation is WireGeneration.D)
    assert list(doc)[2] == EXTENSION_KEY  # right after info, where a reader looks first


# --- references and serialization ------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_every_ref_resolves(generation: WireGeneration, build: Any) -> None:
    doc = build(generation)
    refs = [value for key, value in walk(doc) if key == "$ref"]
    assert len(refs) >= 8
    prefix = "#/definitions/" if build is build_swagger2 else "#/components/schemas/"
    for ref in refs:
        assert isinstance(ref, str)
        assert ref.startswith(prefix)
        assert isinstance(resolve(doc, ref), dict)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_openapi3_structure(generation: WireGeneration) -> None:
    doc = build_openapi3(generation)
    assert doc["openapi"] == "3.0.3"
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for ops in doc["paths"].values():
        for op in ops.values():
            for response in op["responses"].values():
                assert response["description"]
                for media in response.get("content", {}).values():
                    assert "schema" in media
    schemes = doc["components"]["securitySchemes"]
    for requirement in doc["security"] + doc["paths"]["/score"]["post"]["security"]:
        assert set(requirement) <= set(schemes)


@pytest.mark.parametrize("generation", GENERATIONS)
def test_files_are_deterministic_and_readable(generation: WireGeneration) -> None:
    first = swagger_files(generation, title="bm", model_version="3")
    again = swagger_files(WireGeneration(generation).value, list(FEATURES), title="bm", model_version="3")
    assert first == again
    assert list(first) == [SWAGGER2_FILE, SWAGGER3_FILE] == ["swagger2.json", "swagger3.json"]
    builders = {SWAGGER2_FILE: build_swagger2, SWAGGER3_FILE: build_openapi3}
    for name, data in first.items():
        text = data.decode("utf-8")
        assert text.endswith("}\n")
        assert text.startswith('{\n  "swagger": "2.0"' if name == SWAGGER2_FILE else '{\n  "openapi": "3.0.3"')
        assert json.loads(text) == builders[name](generation, title="bm", model_version="3")


def test_files_keep_non_ascii_titles_readable() -> None:
    data = swagger_files("C", title="bänk")[SWAGGER3_FILE]
    assert "bänk".encode() in data


def test_files_differ_when_the_inputs_do() -> None:
    assert swagger_files("C") != swagger_files("B")
    assert swagger_files("C") != swagger_files("C", model_version="2")
    assert swagger_files("C") != swagger_files("C", NO_DURATION)


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", BUILDERS)
def test_refuses_bad_input(build: Any) -> None:
    with pytest.raises(ValueError, match="at least one feature"):
        build("C", ())
    with pytest.raises(ValueError, match="repeat: age"):
        build("C", (FEATURES[0], FEATURES[0]))
    with pytest.raises(ValueError, match="'E'"):
        build("E")


def test_import_stays_pure_python() -> None:
    code = (
        "import sys, bankscore.deploy; "
        "heavy = {'pandas', 'numpy', 'azureml_inference_server_http'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- generation D: Microsoft's no-code shape, with the record in x-bankscore ----------------------------------


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_d_request_has_microsofts_shape(build: Any) -> None:
    service_input = definitions(build("D"))["ServiceInput"]
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


def test_generation_d_cells_are_any_feature_type_in_openapi3() -> None:
    row = data_schema(build_openapi3("D"))["items"]
    assert row["type"] == "array"
    # anyOf: an integer is a number too, so oneOf would refuse every integer cell
    assert row["items"] == {
        "anyOf": [{"type": "integer", "format": "int64"}, {"type": "number", "format": "double"}, {"type": "string"}]
    }


@pytest.mark.parametrize("build", BUILDERS)
def test_generation_d_record_is_the_one_the_other_generations_carry(build: Any) -> None:
    assert build("D")[EXTENSION_KEY]["record"] == data_schema(build("C"))["items"]
    chosen = build("D", NO_DURATION)[EXTENSION_KEY]["record"]
    assert "duration" not in chosen["properties"] and "duration" not in chosen["required"]


def test_generation_d_output_is_a_bare_array() -> None:
    output = definitions(build_openapi3("D"))["ServiceOutput"]
    assert (output["type"], output["format"], output["example"]) == ("array", "numpy.ndarray", ["no"])
    label, probabilities = output["items"]["oneOf"]
    assert label == {"type": "string", "enum": ["no", "yes"]}
    assert probabilities["required"] == ["no", "yes"] == list(probabilities["properties"])
    assert "predict_proba" in output["description"]
    assert "items" in definitions(build_swagger2("D"))["ServiceOutput"]
