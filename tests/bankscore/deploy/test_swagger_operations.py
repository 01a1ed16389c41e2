"""The operations of the shipped documents: the real server's health check, scoring call and spec, with the
error responses the scoring call can meet and the media types the server really answers with."""

from __future__ import annotations

import pytest

from bankscore.deploy import WireGeneration, build_openapi3, build_swagger2

GENERATIONS = list(WireGeneration)


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
