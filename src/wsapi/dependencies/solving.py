"""Per-connection solving: extract, validate (one pydantic call per dependant), call, cache, tear down."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from typing import Any

from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from wsapi.dependencies.analysis import analyse
from wsapi.dependencies.models import CallKind, Dependant, ParamField, Special

Errors = list[dict[str, Any]]
Overrides = Mapping[Callable[..., Any], Callable[..., Any]]
NO_BODY: Any = object()


class Solver:
    """State of one solve: the connection, its exit stack, the per-connection cache and the overrides in force."""

    __slots__ = ("body", "cache", "conn", "overrides", "stack")

    def __init__(
        self, conn: HTTPConnection, stack: AsyncExitStack, overrides: Overrides | None = None, body: Any = NO_BODY
    ) -> None:
        self.conn = conn
        self.stack = stack
        self.overrides = overrides
        self.body = body
        self.cache: dict[Any, Any] = {}

    async def solve(self, dependant: Dependant) -> tuple[dict[str, Any], Errors]:
        """The keyword arguments for `dependant.call`, or the validation errors that prevent calling it."""
        values: dict[str, Any] = {}
        errors: Errors = []
        for name, sub in dependant.dependencies:
            if self.overrides and sub.call is not None and sub.call in self.overrides:
                sub = _overridden(sub, self.overrides[sub.call])
            key = sub.cache_key
            if sub.use_cache and key in self.cache:
                value = self.cache[key]
            else:
                sub_values, sub_errors = await self.solve(sub)
                if sub_errors:
                    errors.extend(sub_errors)
                    continue
                value = await self.call(sub, sub_values)
                if sub.use_cache:
                    self.cache[key] = value
            if name is not None:
                values[name] = value
        if dependant.validator is not None:
            errors.extend(self._validate(dependant, values))
        for name, special in dependant.specials:
            values[name] = self.conn if special is Special.CONNECTION else dependant.scopes_object
        return values, errors

    async def call(self, dependant: Dependant, values: dict[str, Any]) -> Any:
        call = dependant.call
        assert call is not None
        kind = dependant.kind
        if kind is CallKind.ASYNC:
            return await call(**values)
        if kind is CallKind.SYNC:
            return await run_in_threadpool(call, **values)
        if kind is CallKind.ASYNC_GENERATOR:
            return await self.stack.enter_async_context(asynccontextmanager(call)(**values))
        return await self.stack.enter_async_context(_in_threadpool(contextmanager(call)(**values)))

    def _validate(self, dependant: Dependant, values: dict[str, Any]) -> Errors:
        raw: dict[str, Any] = {}
        missing: list[ParamField] = []
        for f in dependant.fields:
            value = self._extract(f)
            if value is _MISSING:
                missing.append(f)
            else:
                raw[f.name] = value
        assert dependant.validator is not None
        try:
            values.update(dependant.validator.validate_python(raw))
        except ValidationError as exc:
            return [_relocate(error, dependant) for error in exc.errors(include_url=False)]
        for f in missing:
            if not f.required:
                values[f.name] = f.default_value()
        return []

    def _extract(self, f: ParamField) -> Any:
        conn = self.conn
        location = f.location
        if location == "path":
            return conn.path_params.get(f.alias, _MISSING)
        if location == "query":
            if f.repeated:
                return conn.query_params.getlist(f.alias) or _MISSING
            return conn.query_params.get(f.alias, _MISSING)
        if location == "header":
            if f.repeated:
                return conn.headers.getlist(f.alias) or _MISSING
            return conn.headers.get(f.alias, _MISSING)
        if location == "cookie":
            return conn.cookies.get(f.alias, _MISSING)
        body = self.body
        if f.whole_body:
            return _MISSING if body is NO_BODY else body
        if isinstance(body, dict):
            return body.get(f.alias, _MISSING)
        return _MISSING


_MISSING: Any = object()


def _relocate(error: Any, dependant: Dependant) -> dict[str, Any]:
    """Rewrite pydantic's location (parameter name first) to the wire location, e.g. `("query", "token")`."""
    name, *rest = error["loc"]
    f = dependant.fields_by_name[name]
    relocated = dict(error)
    relocated["loc"] = (*f.error_loc, *rest)
    if error["type"] == "missing":
        relocated.pop("input", None)
    return relocated


def _overridden(original: Dependant, replacement: Callable[..., Any]) -> Dependant:
    # Overrides are a testing tool, so analysing the replacement on each use costs nothing that matters.
    return analyse(
        replacement,
        path_param_names=original.path_param_names,
        security_scopes=original.security_scopes,
        use_cache=original.use_cache,
    )


@asynccontextmanager
async def _in_threadpool(cm: Any) -> Any:
    """Run a sync context manager (a generator dependency) without blocking the event loop."""
    value = await run_in_threadpool(cm.__enter__)
    try:
        yield value
    except BaseException as exc:
        if not await run_in_threadpool(cm.__exit__, type(exc), exc, exc.__traceback__):
            raise
    else:
        await run_in_threadpool(cm.__exit__, None, None, None)
