"""The OpenAPI 3.1 document of an app's HTTP routes, in FastAPI's shape, with schemas from pydantic.

Each `APIRoute` becomes one operation per method: its parameters (path, query, header, cookie, from the whole
dependency tree), its request body (one model, or a `Body_<operation id>` model when there are several body or form
fields), its responses (the response model's schema, `responses=` extras, a 422 when anything is validated) and the
security schemes its dependencies use.
"""

from __future__ import annotations

import copy
import http.client
import inspect
import warnings
from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter, create_model
from pydantic.fields import FieldInfo
from pydantic.warnings import UnsupportedFieldAttributeWarning
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from wsapi.dependencies.models import Dependant, ParamField
from wsapi.encoders import jsonable_encoder
from wsapi.openapi.schemas import REF_TEMPLATE, Pending, SchemaBatch
from wsapi.params import FileParam, FormParam
from wsapi.response_models import body_allowed
from wsapi.routing import APIRoute
from wsapi.security.base import SecurityBase

METHODS_WITH_BODY = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}

VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
    "required": ["loc", "msg", "type"],
}
HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "type": "array", "items": {"$ref": REF_TEMPLATE.format(model="ValidationError")}}
    },
}
STATUS_RANGES = {
    "1XX": "Information",
    "2XX": "Success",
    "3XX": "Redirection",
    "4XX": "Client Error",
    "5XX": "Server Error",
    "DEFAULT": "Default Response",
}


def get_openapi(
    *,
    title: str,
    version: str,
    openapi_version: str = "3.1.0",
    summary: str | None = None,
    description: str | None = None,
    routes: Sequence[BaseRoute],
    webhooks: Sequence[BaseRoute] | None = None,
    tags: list[dict[str, Any]] | None = None,
    servers: list[dict[str, Any]] | None = None,
    terms_of_service: str | None = None,
    contact: dict[str, Any] | None = None,
    license_info: dict[str, Any] | None = None,
    separate_input_output_schemas: bool = True,
    external_docs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document for `routes` (FastAPI's function of the same name, same arguments)."""
    info: dict[str, Any] = {"title": title, "version": version}
    for key, value in (
        ("summary", summary),
        ("description", description),
        ("termsOfService", terms_of_service),
        ("contact", contact),
        ("license", license_info),
    ):
        if value:
            info[key] = value
    builder = _Builder(SchemaBatch(separate_input_output=separate_input_output_schemas))
    paths = builder.paths(routes)
    webhook_paths = builder.paths(webhooks or [])
    document: dict[str, Any] = {"openapi": openapi_version, "info": info}
    if servers:
        document["servers"] = servers
    document["paths"] = paths
    if webhook_paths:
        document["webhooks"] = webhook_paths
    document, definitions = builder.schemas.resolve(document)
    definitions.update(builder.definitions)
    components: dict[str, Any] = {}
    if builder.security_schemes:
        components["securitySchemes"] = builder.security_schemes
    if definitions:
        components["schemas"] = {name: definitions[name] for name in sorted(definitions)}
    if components:
        document["components"] = components
    if tags:
        document["tags"] = tags
    if external_docs:
        document["externalDocs"] = external_docs
    result: dict[str, Any] = _without_null_defaults(jsonable_encoder(document))
    return result


class _Builder:
    def __init__(self, schemas: SchemaBatch) -> None:
        self.schemas = schemas
        self.definitions: dict[str, Any] = {}
        self.security_schemes: dict[str, Any] = {}

    def paths(self, routes: Sequence[BaseRoute]) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for route in routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.declared_methods:
                    path = paths.setdefault(route.path_format, {})
                    path[method.lower()] = self.operation(route, method)
        return paths

    def operation(self, route: APIRoute, method: str) -> dict[str, Any]:
        operation: dict[str, Any] = {}
        if route.tags:
            operation["tags"] = [tag.value if hasattr(tag, "value") else tag for tag in route.tags]
        operation["summary"] = route.summary or route.name.replace("_", " ").title()
        if route.description:
            operation["description"] = route.description
        operation["operationId"] = route.operation_id or _operation_id(route, method)
        if route.deprecated:
            operation["deprecated"] = True
        fields, security = _dependency_data(route.dependant)
        for scheme, _ in security:
            self.security_schemes[scheme.scheme_name] = scheme.model
        parameters = self.parameters(fields)
        if parameters:
            operation["parameters"] = parameters
        if security:
            scopes_by_name: dict[str, list[str]] = {}
            for scheme, scopes in security:
                merged = scopes_by_name.setdefault(scheme.scheme_name, [])
                merged.extend(s for s in scopes if s not in merged)
            operation["security"] = [{name: scopes} for name, scopes in scopes_by_name.items()]
        if method in METHODS_WITH_BODY and route.body_fields:
            operation["requestBody"] = self.request_body(route)
        operation["responses"] = self.responses(route, validates=bool(fields or route.body_fields))
        if route.openapi_extra:
            _deep_update(operation, route.openapi_extra)
        return operation

    def parameters(self, fields: list[ParamField]) -> list[dict[str, Any]]:
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for f in fields:
            if not f.param.include_in_schema:
                continue
            info = f.param.field_info
            parameter: dict[str, Any] = {
                "name": f.alias,
                "in": f.location,
                "required": f.required,
                "schema": self._field_schema(f),
            }
            if info.description:
                parameter["description"] = info.description
            if info.deprecated:
                parameter["deprecated"] = True
            if f.param.openapi_examples:
                parameter["examples"] = f.param.openapi_examples
            key = (f.location, f.alias)
            if key not in by_key or f.required:  # a required declaration of a shared parameter wins
                by_key[key] = parameter
        # Grouped by location, each group in declaration order, as FastAPI lists them.
        return sorted(by_key.values(), key=lambda parameter: PARAMETER_ORDER.index(parameter["in"]))

    def _field_schema(self, f: ParamField) -> Pending:
        extra: dict[str, Any] = {"title": f.param.field_info.title or f.alias.title().replace("_", " ")}
        if not f.required and f.param.default_factory is None and f.param.default is not None:
            extra["default"] = f.param.default
        if f.param.field_info.deprecated:
            extra["deprecated"] = True
        with warnings.catch_warnings():
            # Field-level docs (`deprecated`) on a bare type: pydantic warns they do nothing, and here they need not.
            warnings.simplefilter("ignore", UnsupportedFieldAttributeWarning)
            adapter: TypeAdapter[Any] = TypeAdapter(f.annotated_type)
        return self.schemas.add(("param", id(f)), adapter, "validation", extra)

    def request_body(self, route: APIRoute) -> dict[str, Any]:
        fields = route.body_fields
        forms = [f.param for f in fields if isinstance(f.param, FormParam)]
        if any(isinstance(p, FileParam) for p in forms):
            media_type = "multipart/form-data"
        elif forms:
            media_type = forms[0].media_type
        else:
            media_type = "application/json"
        if route.whole_body:
            schema = self._field_schema(fields[0])
            required = fields[0].required
        else:
            model = _body_model(f"Body_{route.unique_id}", fields)
            schema = self.schemas.add(("body", route.unique_id), TypeAdapter(model), "validation")
            required = any(f.required for f in fields)
        content: dict[str, Any] = {"schema": schema}
        if route.whole_body and fields[0].param.openapi_examples:
            content["examples"] = fields[0].param.openapi_examples
        body: dict[str, Any] = {"content": {media_type: content}}
        if required:
            body["required"] = True
        return body

    def responses(self, route: APIRoute, *, validates: bool) -> dict[str, Any]:
        status_code = str(route.status_code) if route.status_code is not None else _default_status(route)
        media_type = route.response_class.media_type
        main: dict[str, Any] = {"description": route.response_description}
        if body_allowed(int(status_code)) and media_type:
            if issubclass(route.response_class, JSONResponse):
                schema: Any = {}
                if route.response_type is not None:
                    title = f"Response_{route.unique_id}".title().replace("_", " ")
                    adapter = TypeAdapter(route.response_type)
                    schema = self.schemas.add(("response", route.unique_id), adapter, "serialization", {"title": title})
            else:
                schema = {"type": "string"}
            main["content"] = {media_type: {"schema": schema}}
        responses: dict[str, Any] = {status_code: main}
        for code, extra in route.responses.items():
            extra = copy.deepcopy(extra)
            model = extra.pop("model", None)
            key = "default" if str(code).upper() == "DEFAULT" else str(code).upper()
            response = responses.setdefault(key, {})
            if model is not None:
                model_schema = self.schemas.add(("extra response", route.unique_id, key), TypeAdapter(model))
                content = extra.setdefault("content", {}).setdefault(media_type or "application/json", {})
                content.setdefault("schema", model_schema)
            status_text = STATUS_RANGES.get(str(code).upper()) or (
                http.client.responses.get(int(code)) if str(code).isdigit() else None
            )
            description = extra.get("description") or response.get("description") or status_text
            _deep_update(response, extra)
            response["description"] = description or "Additional Response"
        if validates and not any(code in responses for code in ("422", "4XX", "default")):
            responses["422"] = {
                "description": "Validation Error",
                "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="HTTPValidationError")}}},
            }
            self.definitions["ValidationError"] = VALIDATION_ERROR
            self.definitions["HTTPValidationError"] = HTTP_VALIDATION_ERROR
        return responses


PARAMETER_ORDER = ("path", "query", "header", "cookie")


def _operation_id(route: APIRoute, method: str) -> str:
    if len(route.declared_methods) == 1:
        return route.unique_id
    # One id per method of a multi-method route, as FastAPI does.
    return route.unique_id.rsplit("_", 1)[0] + f"_{method.lower()}"


def _default_status(route: APIRoute) -> str:
    parameter = inspect.signature(route.response_class.__init__).parameters.get("status_code")
    if parameter is not None and isinstance(parameter.default, int):
        return str(parameter.default)
    return "200"


def _dependency_data(dependant: Dependant) -> tuple[list[ParamField], list[tuple[SecurityBase, list[str]]]]:
    """The non-body parameters of the whole tree, each dependency once, and the security schemes with scopes."""
    fields: list[ParamField] = []
    security: list[tuple[SecurityBase, list[str]]] = []
    seen: set[Any] = set()
    pending = [(dependant, True)]
    while pending:
        current, is_root = pending.pop()
        if current.cache_key in seen:
            continue
        seen.add(current.cache_key)
        fields.extend(f for f in current.fields if f.location != "body")
        call = current.call
        if not is_root and isinstance(call, SecurityBase):
            security.append((call, current.security_scopes))
        pending.extend((sub, False) for _, sub in reversed(current.dependencies))
    return fields, security


def _body_model(name: str, fields: list[ParamField]) -> type[Any]:
    definitions: dict[str, Any] = {}
    for f in fields:
        default: Any = ... if f.required else f.param.default
        info = FieldInfo.merge_field_infos(f.param.field_info, default=default, alias=f.alias)
        if f.param.default_factory is not None:
            info = FieldInfo.merge_field_infos(f.param.field_info, default_factory=f.param.default_factory)
        definitions[f.name] = (f.annotation, info)
    model: type[Any] = create_model(name, **definitions)
    return model


def _deep_update(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = target[key] + value
        else:
            target[key] = value


def _without_null_defaults(node: Any) -> Any:
    """Drop `"default": null`: an optional value's absence needs no default in the docs (FastAPI's output too)."""
    if isinstance(node, dict):
        return {k: _without_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_without_null_defaults(v) for v in node]
    return node
