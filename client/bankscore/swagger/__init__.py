"""Swagger tooling: pull a deployment's spec, convert Swagger 2.0, show what changed, generate a typed client.

A redeploy can change what an endpoint accepts. ``pull_spec`` fetches the new spec with the key (as OpenAPI 3,
converting Azure's default Swagger 2.0 when needed), ``diff_specs`` lists what changed for callers and whether
it breaks them, and ``generate_package`` writes a typed client package for it with the pinned
openapi-python-client (the ``codegen`` extra).
"""

from bankscore._exceptions import SwaggerError
from bankscore._spec import (
    OPENAPI_VERSION,
    Document,
    RequestShape,
    SpecChange,
    convert_swagger2,
    diff_specs,
    dump_document,
    load_document,
    parse_document,
    render_changes,
    request_shape,
    spec_version,
    swagger_url,
    to_openapi3,
)
from bankscore.swagger._generate import (
    GENERATOR_VERSION,
    PINNED_GENERATION,
    GeneratedPackage,
    build_pinned_spec,
    default_package_name,
    generate_package,
    render_record_module,
)
from bankscore.swagger._pull import PulledSpec, pull_spec

__all__ = [
    "GENERATOR_VERSION",
    "OPENAPI_VERSION",
    "PINNED_GENERATION",
    "Document",
    "GeneratedPackage",
    "PulledSpec",
    "RequestShape",
    "SpecChange",
    "SwaggerError",
    "build_pinned_spec",
    "convert_swagger2",
    "default_package_name",
    "diff_specs",
    "dump_document",
    "generate_package",
    "load_document",
    "parse_document",
    "pull_spec",
    "render_changes",
    "render_record_module",
    "request_shape",
    "spec_version",
    "swagger_url",
    "to_openapi3",
]
