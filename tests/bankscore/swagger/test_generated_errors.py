"""A generated package cannot drift from the runtime: its errors are bankscore's, all of them, raised for real."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bankscore_tests_loopback import Answer, Request, serve

import bankscore
from bankscore import BankscoreError, ModelError, RequestTimeoutError
from bankscore._spec import record_fields
from bankscore.swagger import build_pinned_spec, generate_package, load_document, parse_document
from bankscore.swagger._serve import PINNED_SPEC

# The container's own status and Azure's reason, as a managed online endpoint sends them with its 424.
CONTAINER_FAILED = {"ms-azureml-model-error-statuscode": "500", "ms-azureml-model-error-reason": "model_error"}


class _Answers:
    """What the stub answers to each POST, in order: (status, headers, body)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.posts = 0


@pytest.fixture
def failing_endpoint() -> Iterator[tuple[str, _Answers]]:
    """A real HTTP server on 127.0.0.1 whose POST /score answers what the test scripts; stopped afterwards."""
    answers = _Answers()

    def handle(request: Request) -> Answer:
        answers.posts += 1
        return answers.script.pop(0)

    with serve(handle) as url:
        yield url + "/score", answers


def _record(document: dict[str, Any]) -> dict[str, Any]:
    plain = {"integer": 30, "number": 1.5, "string": "text", "boolean": True, "any": None}
    return {
        f.wire_name: f.enum[0] if f.enum else f.minimum if f.minimum is not None else plain[f.type]
        for f in record_fields(document)
    }


def test_a_generated_package_exports_every_error_class_bankscore_exports(
    tmp_path: Path, importer: Callable[[str], Any]
) -> None:
    generate_package(load_document(PINNED_SPEC), tmp_path / "errors_client", source="pinned")
    errors = importer("errors_client.errors")
    exported = {
        name: value
        for name in bankscore.__all__
        if inspect.isclass(value := getattr(bankscore, name)) and issubclass(value, BankscoreError)
    }
    assert {"ModelError", "RequestTimeoutError", "DataError", "BankscoreError"} <= set(exported)
    missing = sorted(name for name in exported if getattr(errors, name, None) is not exported[name])
    assert missing == [], f"the generated errors module lacks {missing}"
    assert set(exported) <= set(errors.__all__)
    assert errors.ScoringInterrupted is bankscore.ScoringInterrupted


@pytest.mark.parametrize("generation", ["A", "C"])
def test_a_424_and_a_408_raise_bankscores_errors_through_a_generated_client(
    generation: str,
    tmp_path: Path,
    importer: Callable[[str], Any],
    failing_endpoint: tuple[str, _Answers],
) -> None:
    document = parse_document(build_pinned_spec(generation), "pinned")
    generate_package(document, tmp_path / f"gen{generation.lower()}_client", source="pinned")
    package = importer(f"gen{generation.lower()}_client")
    errors = importer(f"gen{generation.lower()}_client.errors")
    uri, answers = failing_endpoint
    failure = json.dumps({"message": "run() raised: KeyError 'age'"}).encode()
    answers.script = [(424, CONTAINER_FAILED, failure), (408, {}, b'{"message": "upstream request timeout"}')]
    with package.Client(uri, max_retries=0) as client:
        with pytest.raises(errors.ModelError) as model_error:
            client.predict(_record(document))
        with pytest.raises(errors.RequestTimeoutError) as timeout:
            client.predict(_record(document))
    assert answers.posts == 2
    assert isinstance(model_error.value, ModelError) and isinstance(timeout.value, RequestTimeoutError)
    error = model_error.value
    assert (error.status, error.model_status, error.reason) == (424, 500, "model_error")
    message = str(error)
    assert "KeyError 'age'" in message and "container's log has the cause" in message
    assert "no-code" not in message  # generations A to C run a scoring script of their own
    assert timeout.value.status == 408


def test_a_424_from_a_no_code_endpoint_names_the_no_code_script(
    tmp_path: Path, importer: Callable[[str], Any], failing_endpoint: tuple[str, _Answers]
) -> None:
    document = parse_document(build_pinned_spec("D"), "pinned")
    generate_package(document, tmp_path / "nocode_client", source="pinned")
    package = importer("nocode_client")
    uri, answers = failing_endpoint
    answers.script = [(424, CONTAINER_FAILED, b'{"message": "An unexpected error occurred in scoring script."}')]
    with package.Client(uri, max_retries=0) as client, pytest.raises(ModelError) as raised:
        client.predict(_record(document))
    assert "the no-code scoring script answers every model error alike" in str(raised.value)
