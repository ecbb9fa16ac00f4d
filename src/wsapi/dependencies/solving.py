"""Per-connection solving: extract, validate (one pydantic call per dependant), call, cache, tear down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError
from starlette.background import BackgroundTasks
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response

from wsapi.concurrency import CallKind, contextmanager_in_threadpool
from wsapi.dependencies.analysis import analyse
from wsapi.dependencies.models import Dependant, ParamField, Special

Errors = list[dict[str, Any]]
Overrides = Mapping[Callable[..., Any], Callable[..., Any]]
NO_BODY: Any = object()


class Solver:
    """State of one solve: the connection, its exit stacks, the per-connection cache and the overrides in force.

    `stack` holds the yield-dependencies torn down when the request or connection is over, `function_stack` those
    of scope "function", torn down as soon as the endpoint returns; either may be None for a plan that enters none
    (see `Dependant.needs_exit_stack`, `needs_function_stack`) when no overrides are in force. `whole_body` is the
    route's body mode: its one body parameter is the whole body, not a key of it. With `calls_past_errors` (HTTP, as
    in FastAPI), a dependency whose own inputs are valid is still called after another one failed validation, so
    that an authentication dependency's 401 comes before a query parameter's 422.
    """

    __slots__ = (
        "background",
        "body",
        "cache",
        "calls_past_errors",
        "conn",
        "failed",
        "function_stack",
        "overrides",
        "query",
        "query_pairs",
        "response",
        "stack",
        "whole_body",
    )

    def __init__(
        self,
        conn: HTTPConnection,
        stack: AsyncExitStack | None = None,
        overrides: Overrides | None = None,
        body: Any = NO_BODY,
        *,
        function_stack: AsyncExitStack | None = None,
        whole_body: bool = False,
        calls_past_errors: bool = False,
    ) -> None:
        self.conn = conn
        self.stack = stack
        self.function_stack = function_stack
        self.overrides = overrides
        self.body = body
        self.whole_body = whole_body
        self.calls_past_errors = calls_past_errors
        self.cache: dict[Any, Any] = {}
        self.failed = False  # a parameter failed validation: from then on, nothing more is called
        self.query: dict[str, str] | None = None
        self.query_pairs: list[tuple[str, str]] | None = None
        self.background: BackgroundTasks | None = None  # created when a parameter asks for them
        self.response: Response | None = None  # likewise

    async def solve(self, dependant: Dependant) -> tuple[dict[str, Any], Errors]:
        """The keyword arguments for `dependant.call`, or the validation errors that prevent calling it.

        Every parameter of the tree is validated, so that all errors are reported together; but once one has failed,
        no further dependency is called (unless `calls_past_errors`): an invalid connection must not run side
        effects (such as an `accept()`).
        """
        values, errors = self.own_values(dependant)
        for name, sub in dependant.dependencies:
            if self.overrides and sub.call is not None and sub.call in self.overrides:
                sub = _overridden(sub, self.overrides[sub.call])
            key = sub.cache_key
            if sub.use_cache and key in self.cache:
                value = self.cache[key]
            else:
                # A dependency without sub-dependencies needs nothing awaited before its call: no coroutine for it.
                sub_values, sub_errors = await self.solve(sub) if sub.dependencies else self.own_values(sub)
                if sub_errors or self.failed:
                    errors.extend(sub_errors)
                    continue
                value = await self.call(sub, sub_values)
                if sub.use_cache:
                    self.cache[key] = value
            if name is not None:
                values[name] = value
        return values, errors

    def own_values(self, dependant: Dependant) -> tuple[dict[str, Any], Errors]:
        """The values of `dependant`'s own parameters (not its sub-dependencies'), validated."""
        values: dict[str, Any] = {}
        errors = self._validate(dependant, values) if dependant.validator is not None else []
        if errors and not self.calls_past_errors:
            self.failed = True
        for name, special in dependant.specials:
            if special is Special.CONNECTION:
                values[name] = self.conn
            elif special is Special.SECURITY_SCOPES:
                values[name] = dependant.scopes_object
            elif special is Special.BACKGROUND_TASKS:
                values[name] = self.background_tasks()
            else:
                values[name] = self.sub_response()
        return values, errors

    def background_tasks(self) -> BackgroundTasks:
        if self.background is None:
            self.background = BackgroundTasks()
        return self.background

    def sub_response(self) -> Response:
        """The `response: Response` parameter: its status code (unset until assigned) and headers, such as
        cookies, go into the response the route sends."""
        if self.response is None:
            self.response = Response()
            del self.response.headers["content-length"]
            self.response.status_code = None  # type: ignore[assignment]
        return self.response

    def call(self, dependant: Dependant, values: dict[str, Any]) -> Awaitable[Any]:
        """What to await to call `dependant`: an async callable's own coroutine, not one wrapping it, because a
        WebSocket endpoint's frames are kept for the whole connection and walked on every resume."""
        call: Callable[..., Any] = dependant.call  # type: ignore[assignment]  # only the message handler's has none
        kind = dependant.kind
        if kind is CallKind.ASYNC:
            coroutine: Awaitable[Any] = call(**values)
            return coroutine
        if kind is CallKind.SYNC:
            return run_in_threadpool(call, **values)
        stack = self.function_stack if dependant.scope == "function" else self.stack
        if stack is None:
            raise RuntimeError(f"no exit stack for the {dependant.scope}-scoped yield-dependency {call!r}")
        if kind is CallKind.ASYNC_GENERATOR:
            return stack.enter_async_context(dependant.context_manager(**values))
        return stack.enter_async_context(contextmanager_in_threadpool(dependant.context_manager(**values)))

    def _validate(self, dependant: Dependant, values: dict[str, Any]) -> Errors:
        raw: dict[str, Any] = {}
        missing: list[ParamField] = []
        for f in dependant.fields:
            value = self._extract(f)
            if value is _MISSING:
                missing.append(f)
            else:
                raw[f.name] = value
        validator: Any = dependant.validator  # checked by the caller
        try:
            # pydantic-core's, one frame less; `from_attributes` as FastAPI validates, so errors have its types
            values.update(validator.validator.validate_python(raw, from_attributes=True))
        except ValidationError as exc:
            return [_relocate(error, dependant, self.whole_body) for error in exc.errors(include_url=False)]
        for f in missing:
            if not f.required:
                values[f.name] = f.default_value()
        return []

    # The query string is parsed into a plain dict: Starlette's QueryParams multidict costs as much again to build,
    # on every handshake. Like QueryParams, the last of repeated keys wins.

    def _query_pairs(self) -> list[tuple[str, str]]:
        if self.query_pairs is None:
            self.query_pairs = parse_qsl(self.conn.scope["query_string"].decode("latin-1"), keep_blank_values=True)
        return self.query_pairs

    def _query(self) -> dict[str, str]:
        if self.query is None:
            self.query = dict(self._query_pairs())
        return self.query

    def _extract(self, f: ParamField) -> Any:
        conn = self.conn
        location = f.location
        if location == "path":
            return conn.path_params.get(f.alias, _MISSING)
        if location == "query":
            if f.repeated:
                return [v for k, v in self._query_pairs() if k == f.alias] or _MISSING
            return self._query().get(f.alias, _MISSING)
        if location == "header":
            if f.repeated:
                return conn.headers.getlist(f.alias) or _MISSING
            return conn.headers.get(f.alias, _MISSING)
        if location == "cookie":
            return conn.cookies.get(f.alias, _MISSING)
        body = self.body
        if self.whole_body:
            return _MISSING if body is NO_BODY else body
        if isinstance(body, dict):
            return body.get(f.alias, _MISSING)
        return _MISSING


_MISSING: Any = object()


def _relocate(error: Any, dependant: Dependant, whole_body: bool) -> dict[str, Any]:
    """Rewrite pydantic's location (parameter name first) to the wire location, e.g. `("query", "token")`."""
    name, *rest = error["loc"]
    f = dependant.fields_by_name[name]
    relocated = dict(error)
    where = (f.location,) if whole_body and f.location == "body" else (f.location, f.alias)
    relocated["loc"] = (*where, *rest)
    if not rest and error["type"] == "missing":
        relocated["input"] = None  # pydantic's input is every parameter; the missing one's is nothing
    return relocated


def _overridden(original: Dependant, replacement: Callable[..., Any]) -> Dependant:
    """The replacement, analysed in the original's context (and so once, however many solves use it)."""
    return analyse(
        replacement,
        path_param_names=original.path_param_names,
        security_scopes=original.security_scopes,
        declares_scopes=original.declares_scopes,
        use_cache=original.use_cache,
        scope=original.scope,
    )
