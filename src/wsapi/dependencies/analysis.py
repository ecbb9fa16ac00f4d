"""Signature analysis: a callable becomes a `Dependant` plan once, when its route is created."""

from __future__ import annotations

import copy
import inspect
import types
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NotRequired, Required, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection
from starlette.responses import Response
from typing_extensions import TypedDict

from wsapi.dependencies.models import CallKind, Dependant, ParamField, Special
from wsapi.params import BodyParam, Dependency, FormParam, HeaderParam, Param, PathParam, QueryParam, SecurityDependency
from wsapi.security.scopes import SecurityScopes

_SEQUENCES = (list, set, tuple, frozenset, Sequence)


def call_kind(call: Callable[..., Any]) -> CallKind:
    if inspect.isclass(call):
        return CallKind.SYNC
    target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    if inspect.isasyncgenfunction(target):
        return CallKind.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(target):
        return CallKind.SYNC_GENERATOR
    if inspect.iscoroutinefunction(target):
        return CallKind.ASYNC
    return CallKind.SYNC


def analyse(
    call: Callable[..., Any],
    *,
    path_param_names: frozenset[str] = frozenset(),
    security_scopes: Sequence[str] = (),
    use_cache: bool = True,
    extra_dependencies: Sequence[Dependency] = (),
    body_by_default: bool = False,
) -> Dependant:
    """Compile `call`'s signature into a plan; sub-dependencies are analysed recursively.

    With `body_by_default`, `call`'s own unmarked parameters read the body instead of the query string: a message
    handler's plain parameters come from the message. Its sub-dependencies keep the usual inference.
    """
    dependant = Dependant(
        call=call,
        kind=call_kind(call),
        security_scopes=list(security_scopes),
        use_cache=use_cache,
        path_param_names=path_param_names,
    )
    for extra in extra_dependencies:
        dependant.dependencies.append((None, _sub_dependant(extra, path_param_names, security_scopes)))

    for parameter in inspect.signature(call, eval_str=True).parameters.values():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation, marker = _split_annotation(parameter)
        if isinstance(marker, Dependency):
            if marker.dependency is None:
                if annotation is inspect.Parameter.empty:
                    raise TypeError(f"{parameter.name!r} in {call!r}: Depends() without a callable needs a type")
                marker = type(marker)(annotation, use_cache=marker.use_cache, scopes=marker.scopes)
            dependant.dependencies.append((parameter.name, _sub_dependant(marker, path_param_names, security_scopes)))
            continue
        special = _special(annotation)
        if special is not None:
            dependant.specials.append((parameter.name, special))
            continue
        dependant.fields.append(_param_field(parameter.name, annotation, marker, path_param_names, body_by_default))

    if dependant.fields:
        dependant.fields_by_name = {f.name: f for f in dependant.fields}
        dependant.validator = _validator(call, dependant.fields)
    return dependant


def _sub_dependant(marker: Dependency, path_param_names: frozenset[str], scopes: Sequence[str]) -> Dependant:
    assert marker.dependency is not None, "a dependency in dependencies=[...] needs a callable"
    own_scopes = [*scopes, *marker.scopes] if isinstance(marker, SecurityDependency) else list(scopes)
    return analyse(
        marker.dependency, path_param_names=path_param_names, security_scopes=own_scopes, use_cache=marker.use_cache
    )


def _split_annotation(parameter: inspect.Parameter) -> tuple[Any, Param | Dependency | None]:
    """The value's type and its marker, from `Annotated[T, Query()]` or from `x: T = Query()` alike."""
    annotation = parameter.annotation
    marker: Param | Dependency | None = None
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
        for item in metadata:
            if isinstance(item, Param | Dependency):
                marker = item
        # Other Annotated metadata (pydantic constraints, validators) stays with the type.
        others = [m for m in metadata if not isinstance(m, Param | Dependency)]
        if others:
            annotation = Annotated[(annotation, *others)]
    default = parameter.default
    if isinstance(default, Param | Dependency):
        marker = default
    elif default is not inspect.Parameter.empty and isinstance(marker, Param):
        # Copied: one `Annotated[str, Query()]` alias may serve several signatures with different defaults.
        marker = copy.copy(marker)
        marker.default = default
    elif default is not inspect.Parameter.empty and marker is None:
        marker = _PlainDefault(default)
    return annotation, marker


class _PlainDefault(Param):
    """A parameter with an ordinary default value (`q: str | None = None`); its location is inferred."""


def _special(annotation: Any) -> Special | None:
    if inspect.isclass(annotation):
        if issubclass(annotation, HTTPConnection):
            return Special.CONNECTION
        if issubclass(annotation, SecurityScopes):
            return Special.SECURITY_SCOPES
        if issubclass(annotation, BackgroundTasks):
            return Special.BACKGROUND_TASKS
        if issubclass(annotation, Response):
            return Special.RESPONSE
    return None


def _param_field(
    name: str, annotation: Any, marker: Param | None, path_param_names: frozenset[str], body_by_default: bool
) -> ParamField:
    if annotation is inspect.Parameter.empty:
        annotation = Any
    if marker is None or type(marker) is _PlainDefault:
        default = ... if marker is None else marker.default
        if name in path_param_names:
            marker = PathParam(default)
        elif body_by_default or _is_model(annotation):
            marker = BodyParam(default)
        else:
            marker = QueryParam(default)
    if isinstance(marker, PathParam) and name not in path_param_names:
        raise TypeError(f"path parameter {name!r} is not in the route's path")
    alias = marker.alias or name
    if isinstance(marker, HeaderParam):
        if marker.alias is None and marker.convert_underscores:
            alias = alias.replace("_", "-")
        alias = alias.lower()
    return ParamField(
        name=name,
        location=marker.location,
        alias=alias,
        annotation=annotation,
        param=marker,
        repeated=(marker.location in ("query", "header") or isinstance(marker, FormParam)) and _is_sequence(annotation),
    )


def _unwrap_optional(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for a in get_args(annotation) if a is not type(None)]
    return [annotation]


def _is_sequence(annotation: Any) -> bool:
    return any(get_origin(a) in _SEQUENCES or a in _SEQUENCES for a in _unwrap_optional(annotation))


def _is_model(annotation: Any) -> bool:
    for candidate in _unwrap_optional(annotation):
        origin = get_origin(candidate) or candidate
        if inspect.isclass(origin) and (issubclass(origin, BaseModel | dict) or origin in _SEQUENCES):
            inner = get_args(candidate)
            if origin is dict or issubclass(origin, BaseModel) or any(_is_model(a) for a in inner):
                return True
    return False


def _validator(call: Callable[..., Any], fields: list[ParamField]) -> TypeAdapter[dict[str, Any]]:
    """One pydantic validator for all of a dependant's parameters: a single call into pydantic-core per solve."""
    items: dict[str, Any] = {}
    for f in fields:
        typed = Annotated[f.annotation, f.param.field_info]  # type: ignore[name-defined]
        items[f.name] = Required[typed] if f.required else NotRequired[typed]
    name = f"{getattr(call, '__name__', type(call).__name__)}_params"
    typed_dict = TypedDict(name, items)  # type: ignore[misc]
    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(typed_dict)  # type: ignore[arg-type]
    return adapter
