"""Swagger 2.0 to OpenAPI 3.0.3, offline, for the specs scoring endpoints serve.

openapi-python-client reads only OpenAPI 3, Azure's ``GET /swagger.json`` answers Swagger 2.0 by default, and
older inference servers ignore ``?version=3``; no maintained offline converter exists on PyPI.
This one covers what the Azure template and ordinary 2.0 specs use:

- ``definitions``, ``parameters``, ``responses`` and ``securityDefinitions`` move under ``components``
  (a shared body parameter becomes a ``requestBodies`` entry), and every ``$ref`` is rewritten to match;
- a ``body`` parameter becomes ``requestBody`` (``formData`` parameters become a form body), with one
  content entry per ``consumes`` media type, and other parameters get their type wrapped in ``schema``;
- a response ``schema`` becomes ``content`` per ``produces`` media type, ``examples`` become ``example``;
- ``host``/``basePath``/``schemes`` become ``servers``; ``x-nullable`` becomes ``nullable``, ``type: file``
  a binary string.

Everything else (``x-`` extensions, descriptions, non-standard ``format`` hints) is kept as it is, in the
source's key order, so the same input always converts to the same document.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from bankscore._exceptions import SwaggerError
from bankscore._spec._document import Document, check_document, printable, spec_version

__all__ = ["OPENAPI_VERSION", "convert_swagger2", "to_openapi3"]

OPENAPI_VERSION: Final = "3.0.3"  # what azmlinfsrv answers to ?version=3, and what openapi-python-client reads

_Json = dict[str, Any]
_DEFAULT_MEDIA: Final = "application/json"
_FORM_MEDIA: Final = "application/x-www-form-urlencoded"
_MULTIPART: Final = "multipart/form-data"
_HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch")
# Keys of a 2.0 non-body parameter that describe its value and so move into the 3.0 ``schema``.
_VALUE_KEYS: Final = (
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
)
# collectionFormat -> (style, explode) for query parameters; csv is the 2.0 default.
_COLLECTION_STYLES: Final[dict[str, tuple[str, bool]]] = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "multi": ("form", True),
}
_OAUTH_FLOWS: Final = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}


def to_openapi3(document: Document) -> Document:
    """The document as OpenAPI 3: a Swagger 2.0 document is converted, an OpenAPI 3 one returned as is.

    Every reading of a spec starts here, so a document nested too deep or holding NaN stops here too.
    """
    check_document(document)
    return convert_swagger2(document) if spec_version(document) == "2.0" else document


def convert_swagger2(document: Document) -> Document:
    """Convert a Swagger 2.0 document to OpenAPI 3.0.3. The input is not modified."""
    if spec_version(document) != "2.0":
        raise SwaggerError("only a Swagger 2.0 document can be converted to OpenAPI 3")
    return _Converter(copy.deepcopy(document)).convert()


class _Converter:
    def __init__(self, source: _Json) -> None:
        self.source = source
        self.consumes: list[str] = list(source.get("consumes") or [_DEFAULT_MEDIA])
        self.produces: list[str] = list(source.get("produces") or [_DEFAULT_MEDIA])
        shared = source.get("parameters") or {}
        # Shared body parameters become requestBodies, so their $refs point somewhere else than the others'.
        self.body_refs = {name for name, param in shared.items() if param.get("in") == "body"}

    def convert(self) -> _Json:
        src = self.source
        out: _Json = {"openapi": OPENAPI_VERSION}
        for key, value in src.items():
            if key in {"swagger", "host", "basePath", "schemes", "consumes", "produces"}:
                continue
            if key == "paths":
                servers = self._servers()
                if servers:
                    out["servers"] = servers
                out["paths"] = {path: self._path_item(item) for path, item in value.items()}
            elif key in {"definitions", "parameters", "responses", "securityDefinitions"}:
                continue  # gathered into components below
            else:
                out[key] = self._refs(value)
        if "paths" not in out:
            out["paths"] = {}
        components = self._components()
        if components:
            out["components"] = components
        return out

    # --- document level ------------------------------------------------------------------------------------

    def _servers(self) -> list[_Json]:
        host = self.source.get("host")
        base = self.source.get("basePath") or ""
        if not host:
            # No host: the spec is relative to wherever it was fetched from; keep the base path only if any.
            return [{"url": base}] if base and base != "/" else []
        schemes = self.source.get("schemes") or ["https"]
        return [{"url": f"{scheme}://{host}{base}"} for scheme in schemes]

    def _components(self) -> _Json:
        src = self.source
        components: _Json = {}
        if src.get("definitions"):
            components["schemas"] = {name: self._schema(s) for name, s in src["definitions"].items()}
        shared = src.get("parameters") or {}
        params = {name: self._parameter(p) for name, p in shared.items() if name not in self.body_refs}
        if params:
            components["parameters"] = params
        bodies = {name: self._request_body([shared[name]], self.consumes) for name in sorted(self.body_refs)}
        if bodies:
            components["requestBodies"] = bodies
        if src.get("responses"):
            components["responses"] = {name: self._response(r, self.produces) for name, r in src["responses"].items()}
        if src.get("securityDefinitions"):
            components["securitySchemes"] = {
                name: self._security_scheme(s) for name, s in src["securityDefinitions"].items()
            }
        return components

    def _security_scheme(self, scheme: _Json) -> _Json:
        kind = scheme.get("type")
        extras = {k: v for k, v in scheme.items() if k.startswith("x-") or k == "description"}
        if kind == "basic":
            return {"type": "http", "scheme": "basic", **extras}
        if kind == "oauth2":
            flow: _Json = {}
            if "authorizationUrl" in scheme:
                flow["authorizationUrl"] = scheme["authorizationUrl"]
            if "tokenUrl" in scheme:
                flow["tokenUrl"] = scheme["tokenUrl"]
            flow["scopes"] = scheme.get("scopes") or {}
            flow_name = _OAUTH_FLOWS.get(scheme.get("flow", ""), "implicit")
            return {"type": "oauth2", "flows": {flow_name: flow}, **extras}
        # apiKey (Azure's Bearer key in the Authorization header) has the same shape in both versions.
        return dict(scheme)

    # --- paths and operations ------------------------------------------------------------------------------

    def _path_item(self, item: _Json) -> _Json:
        if "$ref" in item:
            raise SwaggerError(f"a path item $ref ({printable(item['$ref'])}) cannot be converted; inline it first")
        shared = list(item.get("parameters") or [])
        out: _Json = {}
        for key, value in item.items():
            if key in _HTTP_METHODS:
                out[key] = self._operation(value, shared)
            elif key == "parameters":
                kept = [self._parameter(p) for p in value if not self._is_body_like(p)]
                if kept:
                    out["parameters"] = kept
            else:
                out[key] = self._refs(value)
        return out

    def _is_body_like(self, param: _Json) -> bool:
        if "$ref" in param:
            return self._ref_name(param["$ref"], "#/parameters/") in self.body_refs
        return param.get("in") in {"body", "formData"}

    def _operation(self, op: _Json, path_params: list[_Json]) -> _Json:
        consumes = list(op.get("consumes") or self.consumes)
        produces = list(op.get("produces") or self.produces)
        own = list(op.get("parameters") or [])
        own_keys = {(p.get("name"), p.get("in")) for p in own if "$ref" not in p}
        # Path-level parameters apply unless the operation redefines them; only body-like ones need moving here.
        inherited = [p for p in path_params if self._is_body_like(p) and (p.get("name"), p.get("in")) not in own_keys]
        params = own + inherited
        body_like = [p for p in params if self._is_body_like(p)]
        out: _Json = {}
        for key, value in op.items():
            if key in {"consumes", "produces", "schemes"}:
                continue
            if key == "parameters":
                kept = [self._parameter(p) for p in own if not self._is_body_like(p)]
                if kept:
                    out["parameters"] = kept
                if body_like:
                    out["requestBody"] = self._request_body(body_like, consumes)
            elif key == "responses":
                out["responses"] = {code: self._response(r, produces) for code, r in value.items()}
            else:
                out[key] = self._refs(value)
        if body_like and "requestBody" not in out:
            out["requestBody"] = self._request_body(body_like, consumes)
        return out

    def _parameter(self, param: _Json) -> _Json:
        if "$ref" in param:
            return {"$ref": self._rewrite_ref(param["$ref"])}
        out: _Json = {}
        schema: _Json = {}
        for key, value in param.items():
            if key in _VALUE_KEYS:
                schema[key] = self._schema(value) if key == "items" else copy.deepcopy(value)
            elif key == "collectionFormat" or (key == "allowEmptyValue" and param.get("in") != "query"):
                continue  # collectionFormat becomes style/explode below; allowEmptyValue exists for query only
            elif key == "x-nullable":
                schema["nullable"] = value
            else:
                out[key] = copy.deepcopy(value)
        if schema.get("type") == "file":
            schema = {"type": "string", "format": "binary"}
        if param.get("in") == "path":
            out["required"] = True
        if schema.get("type") == "array":
            fmt = param.get("collectionFormat", "csv")
            style, explode = _COLLECTION_STYLES.get(fmt, ("form", False))
            if param.get("in") == "query":
                out["style"], out["explode"] = style, explode
            else:
                out["style"], out["explode"] = "simple", False
        out["schema"] = schema
        return out

    def _request_body(self, params: list[_Json], consumes: list[str]) -> _Json:
        resolved = [self._shared_param(p) for p in params]
        body = [p for p in resolved if p.get("in") == "body"]
        if body:
            param = body[0]
            out: _Json = {}
            if "description" in param:
                out["description"] = param["description"]
            schema = self._schema(param.get("schema") or {})
            out["content"] = {media: {"schema": copy.deepcopy(schema)} for media in consumes}
            if param.get("required"):
                out["required"] = True
            out.update({k: copy.deepcopy(v) for k, v in param.items() if k.startswith("x-")})
            return out
        # formData parameters: one object schema whose properties are the fields.
        properties: _Json = {}
        required: list[str] = []
        for param in resolved:
            converted = self._parameter({k: v for k, v in param.items() if k != "in"})
            field = converted["schema"]
            if "description" in param:
                field = {**field, "description": param["description"]}
            properties[param["name"]] = field
            if param.get("required"):
                required.append(param["name"])
        form: _Json = {"type": "object", "properties": properties}
        if required:
            form["required"] = required
        has_file = any(p.get("type") == "file" for p in resolved)
        media_types = [m for m in consumes if m in {_FORM_MEDIA, _MULTIPART}] or [
            _MULTIPART if has_file else _FORM_MEDIA
        ]
        return {"content": {media: {"schema": copy.deepcopy(form)} for media in media_types}}

    def _shared_param(self, param: _Json) -> _Json:
        if "$ref" not in param:
            return param
        name = self._ref_name(param["$ref"], "#/parameters/")
        shared = (self.source.get("parameters") or {}).get(name)
        if shared is None:
            raise SwaggerError(f"parameter {printable(param['$ref'])} is referenced but not defined")
        return dict(shared)

    def _response(self, response: _Json, produces: list[str]) -> _Json:
        if "$ref" in response:
            return {"$ref": self._rewrite_ref(response["$ref"])}
        out: _Json = {"description": response.get("description", "")}
        examples = response.get("examples") or {}
        if "schema" in response:
            schema = self._schema(response["schema"])
            content: _Json = {}
            for media in produces:
                entry: _Json = {"schema": copy.deepcopy(schema)}
                if media in examples:
                    entry["example"] = copy.deepcopy(examples[media])
                content[media] = entry
            out["content"] = content
        if "headers" in response:
            out["headers"] = {name: self._header(h) for name, h in response["headers"].items()}
        out.update({k: copy.deepcopy(v) for k, v in response.items() if k.startswith("x-")})
        return out

    def _header(self, header: _Json) -> _Json:
        out: _Json = {}
        if "description" in header:
            out["description"] = header["description"]
        out["schema"] = {k: self._schema(v) if k == "items" else v for k, v in header.items() if k in _VALUE_KEYS}
        return out

    # --- schemas and references ----------------------------------------------------------------------------

    def _schema(self, schema: Any) -> Any:
        if isinstance(schema, list):
            return [self._schema(s) for s in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema and isinstance(schema["$ref"], str):
            return {"$ref": self._rewrite_ref(schema["$ref"])}
        out: _Json = {}
        for key, value in schema.items():
            if key == "x-nullable":
                out["nullable"] = value
            elif key == "discriminator" and isinstance(value, str):
                out["discriminator"] = {"propertyName": value}
            elif key in {"properties", "definitions", "patternProperties"} and isinstance(value, dict):
                out[key] = {name: self._schema(s) for name, s in value.items()}
            elif key in {"items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"}:
                out[key] = self._schema(value)
            elif key in {"example", "default", "enum"}:
                out[key] = copy.deepcopy(value)  # values, not schemas: never rewrite inside them
            else:
                out[key] = self._refs(value)
        if out.get("type") == "file":
            out["type"], out["format"] = "string", "binary"
        return out

    def _refs(self, value: Any) -> Any:
        """Copy a value that is not a schema, rewriting any ``$ref`` inside it."""
        if isinstance(value, list):
            return [self._refs(v) for v in value]
        if isinstance(value, dict):
            return {
                k: self._rewrite_ref(v) if k == "$ref" and isinstance(v, str) else self._refs(v)
                for k, v in value.items()
            }
        return value

    def _rewrite_ref(self, ref: str) -> str:
        if ref.startswith("#/definitions/"):
            return "#/components/schemas/" + ref.removeprefix("#/definitions/")
        if ref.startswith("#/parameters/"):
            name = ref.removeprefix("#/parameters/")
            section = "requestBodies" if name in self.body_refs else "parameters"
            return f"#/components/{section}/{name}"
        if ref.startswith("#/responses/"):
            return "#/components/responses/" + ref.removeprefix("#/responses/")
        if ref.startswith("#/"):
            raise SwaggerError(
                f"cannot convert the reference {printable(ref)}: only definitions, parameters and responses"
            )
        return ref  # a reference to another file stays as written

    @staticmethod
    def _ref_name(ref: str, prefix: str) -> str:
        return ref.removeprefix(prefix) if ref.startswith(prefix) else ref
