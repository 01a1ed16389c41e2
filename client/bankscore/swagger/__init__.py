"""Swagger tooling: pull a deployment's spec, convert Swagger 2.0, show what changed, regenerate the client.

A redeploy can change what an endpoint accepts. ``pull_spec`` fetches the new spec with the key (as OpenAPI 3,
converting Azure's default Swagger 2.0 when needed), ``diff_specs`` lists what changed for callers and whether
it breaks them, and ``generate_client`` regenerates a typed client with the pinned openapi-python-client.
"""

from bankscore.swagger._convert import OPENAPI_VERSION, convert_swagger2, to_openapi3
from bankscore.swagger._diff import RequestShape, SpecChange, diff_specs, render_changes, request_shape
from bankscore.swagger._document import Document, dump_document, load_document, parse_document, spec_version
from bankscore.swagger._errors import SwaggerError
from bankscore.swagger._generate import (
    CODEGEN_CONFIG,
    GENERATED_DIR,
    GENERATOR_VERSION,
    PINNED_GENERATION,
    PINNED_SPEC,
    build_pinned_spec,
    generate_client,
)
from bankscore.swagger._pull import PulledSpec, pull_spec, swagger_url

__all__ = [
    "CODEGEN_CONFIG",
    "GENERATED_DIR",
    "GENERATOR_VERSION",
    "OPENAPI_VERSION",
    "PINNED_GENERATION",
    "PINNED_SPEC",
    "Document",
    "PulledSpec",
    "RequestShape",
    "SpecChange",
    "SwaggerError",
    "build_pinned_spec",
    "convert_swagger2",
    "diff_specs",
    "dump_document",
    "generate_client",
    "load_document",
    "parse_document",
    "pull_spec",
    "render_changes",
    "request_shape",
    "spec_version",
    "swagger_url",
    "to_openapi3",
]
