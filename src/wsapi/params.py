"""Markers that tell the dependency engine where a parameter's value comes from.

`Path`, `Query`, `Header`, `Cookie` and `Body` return `Any` so that `q: str = Query(None)` type-checks in user code,
just as in FastAPI; the objects they build are the `Param` subclasses below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypedDict, Unpack, get_args

from pydantic import Field
from pydantic.fields import FieldInfo

Location = Literal["path", "query", "header", "cookie", "body"]
DependencyScope = Literal["function", "request"]


class FieldOptions(TypedDict, total=False):
    """Validation and documentation options shared by every parameter marker (pydantic `Field` semantics)."""

    default_factory: Callable[[], Any]
    alias: str
    title: str
    description: str
    examples: list[Any]
    openapi_examples: dict[str, dict[str, Any]]
    deprecated: bool | str
    gt: float
    ge: float
    lt: float
    le: float
    multiple_of: float
    allow_inf_nan: bool
    max_digits: int
    decimal_places: int
    min_length: int
    max_length: int
    pattern: str
    discriminator: str
    strict: bool
    include_in_schema: bool
    json_schema_extra: dict[str, Any]


# FastAPI options with no equivalent here, and what to write instead.
REFUSED_OPTIONS = {
    "regex": "pattern=",
    "example": "examples=[...]",
    "validation_alias": "alias=",
    "serialization_alias": "alias=",
    "alias_priority": "alias=",
}


class Param:
    """A value taken from one part of the connection: path, query string, headers, cookies or body."""

    location: ClassVar[Location]

    def __init__(self, default: Any = ..., **options: Unpack[FieldOptions]) -> None:
        _check_options(type(self).__name__.removesuffix("Param"), options)
        self.default = default
        self.default_factory = options.pop("default_factory", None)
        self.alias = options.pop("alias", None)
        self.include_in_schema = options.pop("include_in_schema", True)
        self.openapi_examples = options.pop("openapi_examples", None)  # OpenAPI's named examples, not the schema's
        # The FieldInfo carries constraints and docs only: defaults and aliases are handled by the engine,
        # so the same FieldInfo can sit inside the per-dependant TypedDict that pydantic validates.
        self.field_info: FieldInfo = Field(**options)  # type: ignore[call-overload]

    @property
    def required(self) -> bool:
        return self.default is ... and self.default_factory is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


def _check_options(marker: str, options: Mapping[str, Any]) -> None:
    """Refuse what pydantic's `Field` would otherwise keep as schema extras: a misspelt or unsupported option."""
    unknown = sorted(set(options) - FieldOptions.__optional_keys__)
    if unknown:
        hints = [f"{name} (use {REFUSED_OPTIONS[name]})" for name in unknown if name in REFUSED_OPTIONS]
        raise TypeError(
            f"{marker}() got options wsapi does not support: {', '.join(unknown)}"
            + (f"; {', '.join(hints)}" if hints else "")
        )


class PathParam(Param):
    location = "path"


class QueryParam(Param):
    location = "query"


class HeaderParam(Param):
    location = "header"

    def __init__(
        self, default: Any = ..., *, convert_underscores: bool = True, **options: Unpack[FieldOptions]
    ) -> None:
        super().__init__(default, **options)
        self.convert_underscores = convert_underscores


class CookieParam(Param):
    location = "cookie"


class BodyParam(Param):
    location: ClassVar[Location] = "body"

    def __init__(self, default: Any = ..., *, embed: bool = False, **options: Unpack[FieldOptions]) -> None:
        super().__init__(default, **options)
        self.embed = embed


class FormParam(BodyParam):
    """A field of a form body (`application/x-www-form-urlencoded` or `multipart/form-data`); its errors are located
    in the body, as a JSON body's are."""

    def __init__(
        self,
        default: Any = ...,
        *,
        media_type: str = "application/x-www-form-urlencoded",
        **options: Unpack[FieldOptions],
    ) -> None:
        super().__init__(default, embed=True, **options)
        self.media_type = media_type


class FileParam(FormParam):
    """An uploaded file (`bytes` or `UploadFile`) of a `multipart/form-data` body."""

    def __init__(
        self, default: Any = ..., *, media_type: str = "multipart/form-data", **options: Unpack[FieldOptions]
    ) -> None:
        super().__init__(default, media_type=media_type, **options)


class Dependency:
    """A callable whose result is injected; solved once per connection (or per request) and cached by default.

    `scope` says when a yield-dependency is torn down: `"function"` as soon as the endpoint returns (before an HTTP
    response is sent), `"request"` (a yield-dependency's default) once the response is sent or the connection ended.
    """

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        use_cache: bool = True,
        scopes: Sequence[str] | None = None,
        scope: DependencyScope | None = None,
    ) -> None:
        if scope is not None and scope not in get_args(DependencyScope):
            raise ValueError(f'a dependency\'s scope is "function" or "request", not {scope!r}')
        self.dependency = dependency
        self.use_cache = use_cache
        self.scopes = list(scopes or [])
        self.scope = scope

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__name__", type(self.dependency).__name__)
        return f"{type(self).__name__}({name})"


class SecurityDependency(Dependency):
    """A dependency that also declares the OAuth2 scopes it requires (see `SecurityScopes`)."""


def Path(default: Any = ..., **options: Unpack[FieldOptions]) -> Any:
    return PathParam(default, **options)


def Query(default: Any = ..., **options: Unpack[FieldOptions]) -> Any:
    return QueryParam(default, **options)


def Header(default: Any = ..., *, convert_underscores: bool = True, **options: Unpack[FieldOptions]) -> Any:
    return HeaderParam(default, convert_underscores=convert_underscores, **options)


def Cookie(default: Any = ..., **options: Unpack[FieldOptions]) -> Any:
    return CookieParam(default, **options)


def Body(default: Any = ..., *, embed: bool = False, **options: Unpack[FieldOptions]) -> Any:
    return BodyParam(default, embed=embed, **options)


def Form(
    default: Any = ..., *, media_type: str = "application/x-www-form-urlencoded", **options: Unpack[FieldOptions]
) -> Any:
    return FormParam(default, media_type=media_type, **options)


def File(default: Any = ..., *, media_type: str = "multipart/form-data", **options: Unpack[FieldOptions]) -> Any:
    return FileParam(default, media_type=media_type, **options)


def Depends(
    dependency: Callable[..., Any] | None = None, *, use_cache: bool = True, scope: DependencyScope | None = None
) -> Any:
    return Dependency(dependency, use_cache=use_cache, scope=scope)


def Security(
    dependency: Callable[..., Any] | None = None, *, scopes: Sequence[str] | None = None, use_cache: bool = True
) -> Any:
    return SecurityDependency(dependency, scopes=scopes, use_cache=use_cache)
