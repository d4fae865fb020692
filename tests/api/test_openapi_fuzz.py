"""Schemathesis fuzzes every operation of the OpenAPI schema (fake pipeline): no input makes the server fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from viqa.api.main import create_app
from viqa.settings import Settings


def _cases() -> list[tuple[str, GenerationMode]]:
    """Every operation with valid data; those with a body or query parameters with invalid data too."""
    paths = create_app(settings=Settings()).openapi()["paths"]  # never started
    cases = []
    for path, methods in paths.items():
        for method, operation in methods.items():
            label = f"{method.upper()} {path}"
            cases.append((label, GenerationMode.POSITIVE))
            if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
                cases.append((label, GenerationMode.NEGATIVE))
    return cases

KEY = "fuzz-key"
# the whole API, every check (--checks all), bounded: python -m viqa.eval.benchmarks.fuzz
POSITIVE_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
                   ignored_auth]
NEGATIVE_CHECKS = [not_a_server_error, negative_data_rejection]


@pytest.mark.parametrize(("label", "mode"), _cases(), ids=lambda v: v if isinstance(v, str) else v.value)
def test_no_generated_request_gets_a_server_error(
    make_app: Callable[..., FastAPI], label: str, mode: GenerationMode
) -> None:
    app = make_app(api_key=KEY)  # with the key, writes are fuzzed too (not just refused)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    assert app.state.service.ready.wait(timeout=5)
    operation = schema.find_operation_by_label(label)
    assert operation is not None

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode))
    def check(case: schemathesis.Case) -> None:
        checks = POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS
        response = case.call_and_validate(checks=checks, headers={"X-API-Key": KEY})
        assert response.status_code < 500

    check()


def test_the_openapi_schema_has_examples_and_the_error_shape(client) -> None:
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    for model in ("AskRequest", "SearchRequest", "ChatRequest", "ChatCompletionRequest", "ChatResponse", "Job"):
        assert components[model].get("examples"), model
    ask = spec["paths"]["/v1/ask"]["post"]["responses"]
    assert ask["200"]["content"]["application/json"]["example"]["answer"]
    assert ask["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    upload = spec["paths"]["/v1/collections/{name}/documents"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data", "application/json"}
