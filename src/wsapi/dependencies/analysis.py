"""Signature analysis: a callable becomes a `Dependant` plan once, when its route is created."""

from __future__ import annotations

import copy
import inspect
import types
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Any, NotRequired, Required, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter
from starlette.background import BackgroundTasks
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection
from starlette.responses import Response
from typing_extensions import TypedDict

from wsapi.concurrency import call_kind
from wsapi.dependencies.models import GENERATORS, Dependant, ParamField, Special
from wsapi.exceptions import DependencyScopeError
from wsapi.params import (
    BodyParam,
    Dependency,
    DependencyScope,
    FileParam,
    FormParam,
    HeaderParam,
    Param,
    PathParam,
    QueryParam,
    SecurityDependency,
)
from wsapi.security.scopes import SecurityScopes

_SEQUENCES = (list, set, tuple, frozenset, Sequence)
_PLAN_CACHE_SIZE = 4096


class _Identity:
    """A callable as a key by identity: two equal but distinct callables (frozen dataclasses, say) get own plans."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[..., Any]) -> None:
        self.call = call

    def __hash__(self) -> int:
        return id(self.call)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.call is self.call


# Plans by callable and context. The plan holds the callable, so the id in a key cannot be reused while it is
# cached; the bound keeps a test suite that builds thousands of apps from growing it without end.
_plans: OrderedDict[tuple[Any, ...], Dependant] = OrderedDict()


def analyse(
    call: Callable[..., Any],
    *,
    path_param_names: frozenset[str] = frozenset(),
    security_scopes: Sequence[str] = (),
    declares_scopes: bool = False,
    use_cache: bool = True,
    scope: DependencyScope | None = None,
    extra_dependencies: Sequence[Dependency] = (),
    body_by_default: bool = False,
) -> Dependant:
    """The plan of `call`'s signature; sub-dependencies are analysed recursively.

    A callable is analysed once per context (path parameters, security scopes, caching and scope): a dependency
    that a hundred routes use is one plan. `extra_dependencies` (a route's `dependencies=[...]`) run first.
    With `body_by_default`, `call`'s own unmarked parameters read the body instead of the query string: a message
    handler's plain parameters come from the message. Its sub-dependencies keep the usual inference.
    """
    context = (path_param_names, tuple(security_scopes), declares_scopes, use_cache, scope, body_by_default)
    key = (_Identity(call), *context)
    dependant = _plans.get(key)
    if dependant is None:
        dependant = _analyse(call, *context)
        _plans[key] = dependant
        if len(_plans) > _PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(key)
    if not extra_dependencies:
        return dependant
    extras = [_sub_dependant(dependant, extra, path_param_names, security_scopes) for extra in extra_dependencies]
    return replace(dependant, dependencies=[*((None, extra) for extra in extras), *dependant.dependencies])


def _analyse(
    call: Callable[..., Any],
    path_param_names: frozenset[str],
    security_scopes: tuple[str, ...],
    declares_scopes: bool,
    use_cache: bool,
    scope: DependencyScope | None,
    body_by_default: bool,
) -> Dependant:
    kind = call_kind(call)
    if scope is None and kind in GENERATORS:
        scope = "request"
    dependant = Dependant(
        call=call,
        kind=kind,
        security_scopes=list(security_scopes),
        declares_scopes=declares_scopes,
        use_cache=use_cache,
        scope=scope,
        path_param_names=path_param_names,
    )
    for parameter in inspect.signature(call, eval_str=True).parameters.values():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation, marker = _split_annotation(call, parameter)
        if isinstance(marker, Dependency):
            if marker.dependency is None:
                if annotation is inspect.Parameter.empty:
                    raise TypeError(f"{parameter.name!r} in {call!r}: Depends() without a callable needs a type")
                marker = _with_callable(marker, annotation)
            sub = _sub_dependant(dependant, marker, path_param_names, security_scopes)
            dependant.dependencies.append((parameter.name, sub))
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


def _with_callable(marker: Dependency, call: Callable[..., Any]) -> Dependency:
    """`Depends()` on `x: Pagination`: the annotation is the callable."""
    return type(marker)(call, use_cache=marker.use_cache, scopes=marker.scopes, scope=marker.scope)


def _sub_dependant(
    parent: Dependant, marker: Dependency, path_param_names: frozenset[str], scopes: Sequence[str]
) -> Dependant:
    if marker.dependency is None:
        raise TypeError(f"Depends() in the dependencies of {_name(parent.call)} needs a callable")
    if parent.kind in GENERATORS and parent.scope == "request" and marker.scope == "function":
        raise DependencyScopeError(
            f'The dependency "{_name(parent.call)}" has a scope of "request", it cannot depend on dependencies '
            f'with scope "function" ("{_name(marker.dependency)}"): it would be torn down while '
            f'"{_name(parent.call)}" still holds it'
        )
    declares = isinstance(marker, SecurityDependency) and bool(marker.scopes)
    return analyse(
        marker.dependency,
        path_param_names=path_param_names,
        security_scopes=[*scopes, *marker.scopes] if declares else list(scopes),
        declares_scopes=declares,
        use_cache=marker.use_cache,
        scope=marker.scope,
    )


def _name(call: Any) -> str:
    return str(getattr(call, "__name__", type(call).__name__))


def _split_annotation(call: Callable[..., Any], parameter: inspect.Parameter) -> tuple[Any, Param | Dependency | None]:
    """The value's type and its marker, from `Annotated[T, Query()]` or from `x: T = Query()` alike."""
    annotation = parameter.annotation
    marker: Param | Dependency | None = None
    where = f"parameter {parameter.name!r} of {_name(call)}"
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
        markers = [m for m in metadata if isinstance(m, Param | Dependency)]
        if len(markers) > 1:
            raise TypeError(f"{where} has {len(markers)} markers in Annotated ({markers}); it can take one")
        marker = markers[0] if markers else None
        # Other Annotated metadata (pydantic constraints, validators) stays with the type.
        others = [m for m in metadata if not isinstance(m, Param | Dependency)]
        if others:
            annotation = Annotated[(annotation, *others)]
    default = parameter.default
    if isinstance(default, Param | Dependency):
        if marker is not None:
            raise TypeError(f"{where} has a marker in Annotated ({marker!r}) and another as its default ({default!r})")
        marker = default
    elif default is not inspect.Parameter.empty and isinstance(marker, Dependency):
        raise TypeError(f"{where} gets its value from {marker!r}, so its default {default!r} would never be used")
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
        elif _is_upload(annotation):
            marker = FileParam(default)  # `file: UploadFile` needs no `File()`, as in FastAPI
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


def _is_upload(annotation: Any) -> bool:
    candidates = _unwrap_optional(annotation)
    candidates += [inner for c in candidates if get_origin(c) in _SEQUENCES for inner in get_args(c)]
    return any(inspect.isclass(c) and issubclass(c, UploadFile) for c in candidates)


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
