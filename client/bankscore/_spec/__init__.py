"""What a scoring endpoint's spec says, read without any tooling beyond the client's own dependencies.

Parsing and serializing documents, converting Swagger 2.0 to OpenAPI 3, reducing a spec to the request a caller
sends (wire generation, record fields), comparing two specs, and building the record's pydantic model. The
client uses this to follow a live endpoint; ``bankscore.swagger`` builds its commands on it.
"""

from bankscore._exceptions import SwaggerError
from bankscore._spec._convert import OPENAPI_VERSION, convert_swagger2, to_openapi3
from bankscore._spec._diff import (
    EXTENSION_KEY,
    RequestShape,
    SpecChange,
    detect_generation,
    diff_specs,
    record_schema_of,
    render_changes,
    request_shape,
)
from bankscore._spec._document import (
    MAX_DEPTH,
    Document,
    check_document,
    dump_document,
    load_document,
    parse_document,
    printable,
    record_spec,
    spec_version,
)
from bankscore._spec._record import (
    RECORD_CONFIG,
    RecordField,
    python_name,
    record_description,
    record_fields,
    record_model,
    safe_python_name,
)
from bankscore._spec._url import swagger_url

__all__ = [
    "EXTENSION_KEY",
    "MAX_DEPTH",
    "OPENAPI_VERSION",
    "RECORD_CONFIG",
    "Document",
    "RecordField",
    "RequestShape",
    "SpecChange",
    "SwaggerError",
    "check_document",
    "convert_swagger2",
    "detect_generation",
    "diff_specs",
    "dump_document",
    "load_document",
    "parse_document",
    "printable",
    "python_name",
    "record_description",
    "record_fields",
    "record_model",
    "record_schema_of",
    "record_spec",
    "render_changes",
    "request_shape",
    "safe_python_name",
    "spec_version",
    "swagger_url",
    "to_openapi3",
]
