"""Response models: what a route's `response_model` (or its return annotation) does to the endpoint's result.

The result is validated against the declared type and serialized as that type, as in FastAPI: fields the type does
not declare are dropped (a `UserInDB` returned from a route declared `-> User` loses its `hashed_password`), objects
are read by attribute (`from_attributes`), and `response_model_include/exclude/exclude_unset/_defaults/_none` select
fields. A result that does not fit the type is a server error (`ResponseValidationError`), never sent.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError
from starlette.responses import Response

from wsapi.encoders import IncEx
from wsapi.exceptions import ResponseValidationError, WsAPIError


class _Unset:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Unset()  # `response_model` not given: the return annotation decides


@dataclass(frozen=True)
class ResponseFilter:
    """The serialization options of `response_model_*`."""

    include: IncEx | None = None
    exclude: IncEx | None = None
    by_alias: bool = True
    exclude_unset: bool = False
    exclude_defaults: bool = False
    exclude_none: bool = False


class ResponseModel:
    """Validates an endpoint's result against `annotation` and dumps it as JSON bytes, filtered."""

    def __init__(self, annotation: Any, options: ResponseFilter, endpoint_name: str) -> None:
        self.annotation = annotation
        self.options = options
        try:
            self.adapter: TypeAdapter[Any] = TypeAdapter(annotation)
        except PydanticSchemaGenerationError as exc:
            raise WsAPIError(
                f"{endpoint_name}: the response model {annotation!r} is not a type pydantic can validate; "
                "declare a pydantic-compatible response_model=..., or response_model=None to send the result as is"
            ) from exc

    def validate(self, result: Any) -> Any:
        try:
            return self.adapter.validate_python(result, from_attributes=True)
        except ValidationError as exc:
            errors = [{**e, "loc": ("response", *e["loc"])} for e in exc.errors(include_url=False)]
            raise ResponseValidationError(errors, body=result) from None

    def dump_python(self, result: Any) -> Any:
        """The filtered result as JSON-compatible data, for a response class that encodes it itself."""
        o = self.options
        return self.adapter.dump_python(
            self.validate(result),
            mode="json",
            include=o.include,
            exclude=o.exclude,
            by_alias=o.by_alias,
            exclude_unset=o.exclude_unset,
            exclude_defaults=o.exclude_defaults,
            exclude_none=o.exclude_none,
        )

    def dump_json(self, result: Any) -> bytes:
        o = self.options
        return self.adapter.dump_json(
            self.validate(result),
            include=o.include,
            exclude=o.exclude,
            by_alias=o.by_alias,
            exclude_unset=o.exclude_unset,
            exclude_defaults=o.exclude_defaults,
            exclude_none=o.exclude_none,
        )


def declared_response_type(endpoint: Callable[..., Any], response_model: Any) -> Any:
    """The type to filter responses by: `response_model`, else the return annotation; None for no filtering.

    A return annotation that is a `Response` (the endpoint builds its own response) declares no model.
    """
    if response_model is not DEFAULT:
        return response_model
    try:
        annotation = get_type_hints(endpoint, include_extras=True).get("return", inspect.Parameter.empty)
    except (NameError, TypeError):
        annotation = inspect.signature(endpoint).return_annotation
    if annotation in (inspect.Parameter.empty, None, type(None)) or _only_responses(annotation):
        return None
    return annotation


def _only_responses(annotation: Any) -> bool:
    """Whether the annotation is a `Response`, or a union of them: the endpoint answers for itself."""
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    return all(m is type(None) or (inspect.isclass(m) and issubclass(m, Response)) for m in members)


def body_allowed(status_code: int) -> bool:
    """RFC 9110: 1xx, 204 and 304 responses have no body."""
    return not (status_code < 200 or status_code in (204, 304))
