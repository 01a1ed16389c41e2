"""The shipped Swagger 2.0 / OpenAPI 3.0.3 documents as a whole: the real server's shape, the x-bankscore
extension, references, the files and what the builders refuse (schemas and operations: their own modules)."""

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
    SWAGGER2_FILE,
    SWAGGER3_FILE,
    WireGeneration,
    build_openapi3,
    build_swagger2,
    swagger_files,
)
from bankscore.features import FEATURE_NAMES, FEATURES, FeatureKind

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


def skeleton(doc: Json, spec_parts: Any) -> Json:
    """What bankscore's documents must share with the real server's: everything a tool may key on."""
    version = doc.get("swagger") or doc["openapi"]
    record = spec_parts.record_schema(doc)
    service_input = spec_parts.definitions(doc)["ServiceInput"]
    score = doc["paths"]["/score"]["post"]
    rows = spec_parts.frame_schema(doc) if spec_parts.is_frame(doc) else spec_parts.data_schema(doc)
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
        "definitions": list(spec_parts.definitions(doc)),
        "input_keys": list(service_input["properties"]),
        "record_required": record["required"],
        "record_types": {n: (s["type"], s.get("format")) for n, s in record["properties"].items()},
        "data_format": rows["format"],
        "error_keys": list(spec_parts.definitions(doc)["ErrorResponse"]["properties"]),
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


# --- the real server's shape ------------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize(("build", "version"), [(build_swagger2, "2.0"), (build_openapi3, "3.0.3")])
def test_skeleton_is_the_real_servers(generation: WireGeneration, build: Any, version: str, spec_parts: Any) -> None:
    assert skeleton(build(generation), spec_parts) == expected_skeleton(generation, version)


@pytest.mark.skipif(not os.environ.get("BANKSCORE_SWAGGER_SAMPLES"), reason="BANKSCORE_SWAGGER_SAMPLES not set")
@pytest.mark.parametrize("generation", RECORD_GENERATIONS)  # D: test_gen_d.py compares Microsoft's files
@pytest.mark.parametrize(("build", "suffix"), [(build_swagger2, "swagger2"), (build_openapi3, "openapi3")])
def test_matches_real_samples(generation: WireGeneration, build: Any, suffix: str, spec_parts: Any) -> None:
    """Against the real server's own spec files, in the folder BANKSCORE_SWAGGER_SAMPLES names."""
    folder = Path(os.environ["BANKSCORE_SWAGGER_SAMPLES"])
    name = f"LOCAL-GENERATED__azmlinfsrv-1.5.1__{SAMPLE_NAMES[generation]}__{suffix}.json"
    sample = json.loads((folder / name).read_text(encoding="utf-8"))
    ours = build(generation, title=sample["info"]["title"])
    assert skeleton(ours, spec_parts) == skeleton(sample, spec_parts)
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


@pytest.mark.parametrize("generation", GENERATIONS)
def test_swagger2_has_no_openapi3_constructs(generation: WireGeneration) -> None:
    keys = {key for key, _ in walk(build_swagger2(generation))}
    assert not keys & {"oneOf", "anyOf", "nullable", "components", "requestBody", "content"}


# --- the x-bankscore extension ----------------------------------------------------------------------------------


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("build", BUILDERS)
def test_extension_names_generation_version_and_features(generation: WireGeneration, build: Any) -> None:
    doc = build(generation, model_version="12")
    extension = {k: v for k, v in doc[EXTENSION_KEY].items() if k != "record"}
    assert extension == {"generation": str(generation), "model_version": "12", "features": list(FEATURE_NAMES)}
    # Only D carries the record there: A, B and C have it as data.items already.
    assert ("record" in doc[EXTENSION_KEY]) is (generation is WireGeneration.D)
    assert list(doc)[2] == EXTENSION_KEY  # right after info, where a reader looks first


# --- references and serialization -------------------------------------------------------------------------------


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


# --- bad input --------------------------------------------------------------------------------------------------


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
