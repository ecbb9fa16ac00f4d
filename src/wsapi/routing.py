"""Routes and routers: Starlette's matching underneath, the dependency engine in front of each endpoint."""

from __future__ import annotations

import copy
import inspect
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from enum import Enum
from typing import Any, TypedDict, TypeVar, Unpack

from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router, WebSocketRoute, compile_path
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send
from starlette.websockets import WebSocketClose, WebSocketDisconnect, WebSocketState
from typing_extensions import deprecated

from wsapi.concurrency import CallKind, is_async_callable
from wsapi.connections import CONNECTION_KEY, Connection
from wsapi.dependencies import NO_BODY, Dependant, Solver, analyse
from wsapi.dependencies.bodies import body_reader
from wsapi.dependencies.solving import Overrides
from wsapi.encoders import IncEx, jsonable_encoder
from wsapi.exceptions import (
    EndpointContext,
    RequestValidationError,
    ResponseValidationError,
    WebSocketRequestValidationError,
    WsAPIError,
    endpoint_context,
    handle_websocket_error,
)
from wsapi.limits import FROM_APP, RateLimit
from wsapi.messages import Dispatcher, MessageRouter
from wsapi.metrics import OFF, Hooks
from wsapi.origins import OriginPolicy
from wsapi.params import Dependency
from wsapi.response_models import DEFAULT, ResponseFilter, ResponseModel, body_allowed, declared_response_type
from wsapi.websockets import WebSocket

logger = logging.getLogger("wsapi")

DecoratedCallable = TypeVar("DecoratedCallable", bound=Callable[..., Any])


async def _call_event_handler(handler: Callable[[], Any]) -> None:
    if is_async_callable(handler):
        await handler()
    else:
        handler()


ON_EVENT_DEPRECATED = "on_event() is deprecated, as in FastAPI: pass a lifespan handler (`lifespan=`) instead"


def event_decorator(
    add: Callable[[str, Callable[[], Any]], None], event_type: str
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    def decorator(func: DecoratedCallable) -> DecoratedCallable:
        add(event_type, func)
        return func

    return decorator


_SWALLOWED: Any = object()  # the endpoint's result, until it returns one
SWALLOWED_MESSAGE = (
    "no response was sent: the endpoint was raising an exception and a dependency with yield caught it without"
    " raising it again (an `except` around a yield-dependency's `yield` must end with `raise`)"
)


def _overrides(scope: Scope) -> Overrides | None:
    return getattr(scope.get("app"), "dependency_overrides", None)


class MethodOptions(TypedDict, total=False):
    """What an HTTP route takes besides its path and endpoint (`methods` aside, for `get`, `post`, ...).

    FastAPI's names and meanings; `tags` to `openapi_extra` only describe the route in the OpenAPI document.
    """

    response_model: Any
    status_code: int | None
    tags: list[str | Enum] | None
    dependencies: Sequence[Dependency] | None
    summary: str | None
    description: str | None
    response_description: str
    responses: dict[int | str, dict[str, Any]] | None
    deprecated: bool | None
    name: str | None
    operation_id: str | None
    response_model_include: IncEx | None
    response_model_exclude: IncEx | None
    response_model_by_alias: bool
    response_model_exclude_unset: bool
    response_model_exclude_defaults: bool
    response_model_exclude_none: bool
    include_in_schema: bool
    response_class: type[Response] | None
    openapi_extra: dict[str, Any] | None
    generate_unique_id_function: Callable[[APIRoute], str] | None
    strict_content_type: bool
    callbacks: list[BaseRoute] | None


class RouteOptions(MethodOptions, total=False):
    methods: Sequence[str] | None


class IncludeOptions(TypedDict, total=False):
    """What `include_router` takes besides the router (FastAPI's names)."""

    prefix: str
    tags: list[str | Enum] | None
    dependencies: Sequence[Dependency] | None
    default_response_class: type[Response] | None
    responses: dict[int | str, dict[str, Any]] | None
    callbacks: list[BaseRoute] | None
    deprecated: bool | None
    include_in_schema: bool
    generate_unique_id_function: Callable[[APIRoute], str] | None


# FastAPI options that wsapi does not implement: declaring one is an error, never silently ignored.
UNSUPPORTED_OPTIONS = {
    "callbacks": "OpenAPI callbacks (callbacks=...) are not supported by wsapi",
    "route_class_override": "custom route classes (route_class_override=...) are not supported by wsapi",
}


def check_options(where: str, options: Mapping[str, Any], allowed: Any) -> None:
    """Refuse an option that `allowed` (a TypedDict) does not name, or one of FastAPI's wsapi does not implement."""
    for key, value in options.items():
        if key in UNSUPPORTED_OPTIONS and value:
            raise TypeError(f"{where}: {UNSUPPORTED_OPTIONS[key]}")
        if key not in allowed.__annotations__ and key not in UNSUPPORTED_OPTIONS:
            raise TypeError(f"{where}: unexpected keyword argument {key!r}")


def generate_unique_id(route: APIRoute) -> str:
    """The default operation id, as FastAPI makes it: name, path and method, e.g. `read_item_items__item_id__get`."""
    return re.sub(r"\W", "_", f"{route.name}{route.path_format}") + f"_{route.declared_methods[0].lower()}"


class APIRoute(Route):
    """An HTTP route whose endpoint gets its arguments from the dependency engine and may return plain data.

    A returned value is validated and filtered by the response model (`response_model`, else the return annotation;
    see `wsapi.response_models`) and encoded with `jsonable_encoder`; a returned `Response` is sent as it is.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Unpack[RouteOptions]) -> None:
        check_options(path, options, RouteOptions)
        methods = [m.upper() for m in options.get("methods") or ["GET"]]
        name = options.get("name")
        include_in_schema = options.get("include_in_schema", True)
        super().__init__(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        self.options = options  # kept whole, so that include_router can re-create the route under a prefix
        self.declared_methods = methods
        self.dependencies = list(options.get("dependencies") or [])
        self.status_code = options.get("status_code")
        self.response_class: type[Response] = options.get("response_class") or JSONResponse
        self.tags = list(options.get("tags") or [])
        self.summary = options.get("summary")
        description = options.get("description") or inspect.cleandoc(endpoint.__doc__ or "")
        self.description = description.split("\f")[0].strip()  # a form feed ends what the docs show
        self.response_description = options.get("response_description", "Successful Response")
        self.responses = dict(options.get("responses") or {})
        self.deprecated = options.get("deprecated")
        self.operation_id = options.get("operation_id")
        self.openapi_extra = options.get("openapi_extra")
        self.unique_id = self.operation_id or (options.get("generate_unique_id_function") or generate_unique_id)(self)
        self.response_type = declared_response_type(endpoint, options.get("response_model", DEFAULT))
        self.response_model = (
            None if self.response_type is None else ResponseModel(self.response_type, _filter(options), self.name)
        )
        self.dependant = analyse(
            endpoint,
            path_param_names=frozenset(self.param_convertors),
            extra_dependencies=self.dependencies,
        )
        body_fields = [f for f in self.dependant.all_fields() if f.location == "body"]
        # One body parameter (however many dependencies name it) is the whole body, unless it asks to be embedded.
        self.whole_body = len({f.name for f in body_fields}) == 1 and not any(
            getattr(f.param, "embed", False) for f in body_fields
        )
        self.body_fields = list({f.name: f for f in body_fields}.values())
        if not self.whole_body and any(f.param.openapi_examples for f in self.body_fields):
            raise TypeError(
                f"{self.path}: openapi_examples describe a whole request body, and this route's body has the fields"
                f" {', '.join(f.alias for f in self.body_fields)}: use examples=[...] on each field instead"
            )
        self.read_body = body_reader(body_fields, strict_content_type=options.get("strict_content_type", True))
        # Pydantic writes the JSON itself when nothing else decides how the response is made.
        self.dumps_json = self.response_model is not None and self.response_class is JSONResponse
        self.app = self.handle_request

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            await self._respond(request, send)

        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    async def _respond(self, request: Request, send: Send) -> None:
        scope = request.scope
        # Yield-dependencies of scope "function" are torn down when the endpoint returns, the others after the
        # response has been sent.
        responded = False
        async with AsyncExitStack() as stack:
            body = NO_BODY if self.read_body is None else await self.read_body(request, stack)
            result: Any = _SWALLOWED
            async with AsyncExitStack() as function_stack:
                solver = Solver(
                    request,
                    stack,
                    _overrides(scope),
                    body,
                    function_stack=function_stack,
                    whole_body=self.whole_body,
                    calls_past_errors=True,
                )
                values, errors = await solver.solve(self.dependant)
                if errors:
                    raise RequestValidationError(
                        errors, body=None if body is NO_BODY else body, endpoint_ctx=self.endpoint_context(request)
                    )
                result = await solver.call(self.dependant, values)
            if result is _SWALLOWED:
                raise WsAPIError(SWALLOWED_MESSAGE)
            if isinstance(result, Response):
                response = result
            else:
                try:
                    response = await self._response(result, solver.response)
                except ResponseValidationError as exc:
                    exc.endpoint_ctx = self.endpoint_context(request)
                    raise
            if solver.background is not None and response.background is None:
                response.background = solver.background
            await response(scope, request.receive, send)
            responded = True
        if not responded:
            raise WsAPIError(SWALLOWED_MESSAGE)

    def endpoint_context(self, request: Request) -> EndpointContext:
        return endpoint_context(self.endpoint, f"{request.method} {request.scope.get('root_path', '')}{self.path}")

    async def _response(self, result: Any, sub_response: Response | None) -> Response:
        status_code = self.status_code
        if sub_response is not None and sub_response.status_code:
            status_code = sub_response.status_code
        response: Response
        if self.dumps_json:
            assert self.response_model is not None
            content = await self._in_threadpool_if_sync(self.response_model.dump_json, result)
            response = Response(content, status_code or 200, media_type="application/json")
        else:
            if self.response_model is not None:
                content = self.response_model.dump_python(result)
            else:
                content = jsonable_encoder(result)
            if status_code is None:
                response = self.response_class(content)
            else:
                response = self.response_class(content, status_code=status_code)
        if not body_allowed(response.status_code):
            response.body = b""
        if sub_response is not None:
            response.raw_headers.extend(sub_response.raw_headers)
        return response

    async def _in_threadpool_if_sync(self, function: Callable[[Any], bytes], result: Any) -> bytes:
        # A sync endpoint's result may be an ORM object whose attributes load lazily: read them off the event loop.
        if self.dependant.kind is CallKind.SYNC:
            return await run_in_threadpool(function, result)
        return function(result)


def _filter(options: MethodOptions) -> ResponseFilter:
    return ResponseFilter(
        include=options.get("response_model_include"),
        exclude=options.get("response_model_exclude"),
        by_alias=options.get("response_model_by_alias", True),
        exclude_unset=options.get("response_model_exclude_unset", False),
        exclude_defaults=options.get("response_model_exclude_defaults", False),
        exclude_none=options.get("response_model_exclude_none", False),
    )


class WebSocketOptions(TypedDict, total=False):
    """What a WebSocket route takes besides its path, endpoint and name.

    `allowed_origins` replaces the app's for this route (see `wsapi.origins`). `rate_limit` (inbound messages per
    connection; `None` for none) and `max_message_size` (bytes) replace the app's `Limits` for a function or class
    endpoint; a `MessageRouter` takes its own.
    """

    dependencies: Sequence[Dependency] | None
    allowed_origins: Sequence[str] | None
    rate_limit: RateLimit | FROM_APP | None
    max_message_size: int | None


class APIWebSocketRoute(WebSocketRoute):
    """A WebSocket route whose endpoint gets its arguments from the dependency engine.

    The endpoint runs after the handshake's parameters and dependencies are solved; it decides when to accept.
    A class endpoint (a `WebSocketEndpoint` subclass) is served as it is, as in Starlette. A `MessageRouter`
    endpoint is served by its handlers: its connect hook takes the endpoint's place, then messages are dispatched.
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any] | MessageRouter,
        *,
        name: str | None = None,
        dependencies: Sequence[Dependency] | None = None,
        allowed_origins: Sequence[str] | None = None,
        rate_limit: RateLimit | FROM_APP | None = "app",
        max_message_size: int | None = None,
    ) -> None:
        super().__init__(path, endpoint, name=name)  # type: ignore[arg-type]  # a MessageRouter is served by run()
        if name is None and isinstance(endpoint, MessageRouter):
            # Named after the path: the class name would give every message route the same name.
            self.name = re.sub(r"[^A-Za-z0-9]+", "_", self.path_format).strip("_") or "root"
        if isinstance(endpoint, MessageRouter) and (rate_limit != "app" or max_message_size is not None):
            raise TypeError(f"route {self.name!r}: set rate_limit and max_message_size on its MessageRouter")
        self.dependencies = list(dependencies or [])
        self.allowed_origins = allowed_origins
        self.origin_policy = None if allowed_origins is None else OriginPolicy(allowed_origins)
        self.rate_limit = rate_limit
        self.max_message_size = max_message_size
        if inspect.isclass(endpoint) and (rate_limit != "app" or max_message_size is not None):
            self.app = self._with_limits(self.app)
        self.dependant: Dependant | None = None
        self.dispatcher: Dispatcher | None = None
        if inspect.isclass(endpoint):
            self.app = _handling_errors(self.app)
            return
        path_param_names = frozenset(self.param_convertors)
        if isinstance(endpoint, MessageRouter):
            self.dispatcher = Dispatcher(endpoint, path_param_names)
            endpoint = self.dispatcher.connect
        elif not is_async_callable(endpoint):
            raise TypeError(f"WebSocket endpoint {self.name!r} must be an async function")
        self.dependant = analyse(endpoint, path_param_names=path_param_names, extra_dependencies=self.dependencies)
        body_fields = [f.name for f in self.dependant.all_fields() if f.location == "body"]
        if body_fields:
            raise TypeError(f"WebSocket endpoint {self.name!r} cannot take a body parameter: {body_fields}")
        disconnect = self.dispatcher.disconnect if self.dispatcher else None
        self.needs_exit_stack = self.dependant.needs_exit_stack or bool(disconnect and disconnect.needs_exit_stack)
        self.needs_function_stack = self.dependant.needs_function_stack or bool(
            disconnect and disconnect.needs_function_stack
        )
        self.app = self.handle_websocket

    # The coroutine frames below live as long as the connection, so there are as few of them as can be:
    # exceptions are handled here rather than through Starlette's wrapper, which adds frames and a send wrapper.

    def _with_limits(self, app: ASGIApp) -> ASGIApp:
        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            self._use_limits(scope.get(CONNECTION_KEY))
            await app(scope, receive, send)

        return limited

    def _use_limits(self, connection: Connection | None) -> None:
        if connection is not None:
            connection.use_limits(
                connection.limits.messages if self.rate_limit == "app" else self.rate_limit,
                connection.limits.max_message_size if self.max_message_size is None else self.max_message_size,
            )

    async def handle_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics: Hooks = getattr(scope.get("app"), "metrics", OFF)
        if metrics.on:
            send = metrics.watch(send, self.path_format)
        connection: Connection | None = scope.get(CONNECTION_KEY)
        if connection is not None and self.dispatcher is not None:
            receive = connection.raw_receive  # a typed route applies its limits itself, answering with error frames
        websocket = WebSocket(scope, receive, send)
        overrides = _overrides(scope)
        if connection is not None:
            connection.websocket = websocket
            if self.rate_limit != "app" or self.max_message_size is not None:
                self._use_limits(connection)
        try:
            # Connection-scoped yield-dependencies end with the connection, function-scoped ones (torn down first) as
            # soon as the endpoint returns. An override may bring yield-dependencies the plan does not have: with
            # overrides, both stacks exist.
            disconnect = None
            async with (
                _exit_stack(self.needs_exit_stack or bool(overrides)) as stack,
                _exit_stack(self.needs_function_stack or bool(overrides)) as function_stack,
            ):
                endpoint = await self.solve(websocket, stack, function_stack, overrides)
                if endpoint is not None:
                    try:
                        await endpoint
                    except WebSocketDisconnect as exc:
                        disconnect = exc
            if disconnect is not None:
                raise disconnect
        except Exception as exc:
            if not await handle_websocket_error(websocket, exc):
                raise
        finally:
            if metrics.on:
                metrics.ended(send)

    def endpoint_context(self, websocket: WebSocket) -> EndpointContext:
        call: Callable[..., Any] = self.dependant.call if self.dependant else self.endpoint  # type: ignore[assignment]
        return endpoint_context(call, f"WebSocket {websocket.scope.get('root_path', '')}{self.path}")

    async def solve(
        self,
        websocket: WebSocket,
        stack: AsyncExitStack | None,
        function_stack: AsyncExitStack | None,
        overrides: Overrides | None,
    ) -> Awaitable[None] | None:
        """The endpoint's call, its handshake parameters and dependencies solved (on a typed route, followed by
        serving its messages); None if a dependency closed the connection itself (the guide's older style).

        It is returned, not awaited here, so that this frame and what it holds (the values, the solver) are gone
        while the connection is open. The client leaving while the endpoint receives is how a WebSocket normally
        ends: `handle_websocket` catches that `WebSocketDisconnect` so that yield-dependencies tear down as after a
        return instead of having it thrown into them, and raises it after their teardown.
        """
        dependant: Dependant = self.dependant  # type: ignore[assignment]  # a class endpoint is not run here
        solver = Solver(websocket, stack, overrides, function_stack=function_stack)
        values, errors = await solver.solve(dependant)
        if errors:
            raise WebSocketRequestValidationError(errors, endpoint_ctx=self.endpoint_context(websocket))
        if websocket.application_state is WebSocketState.DISCONNECTED:
            return None
        endpoint = solver.call(dependant, values)
        if self.dispatcher is None:
            return endpoint
        return _then_serve(endpoint, self.dispatcher, websocket, solver)


async def _then_serve(connect: Awaitable[Any], dispatcher: Dispatcher, websocket: WebSocket, solver: Solver) -> None:
    """A typed route's connection: its connect hook, then its messages."""
    await connect
    await dispatcher.serve(websocket, solver)


_NO_EXIT_STACK: nullcontext[None] = nullcontext()


def _exit_stack(needed: bool) -> AbstractAsyncContextManager[AsyncExitStack | None]:
    """A new exit stack if `needed`; else a shared one that does nothing (an object less per connection)."""
    return AsyncExitStack() if needed else _NO_EXIT_STACK


class APIRouter(Router):
    """A group of routes with a shared prefix, tags, responses and dependencies, included into an app or a router.

    `tags`, `responses`, `deprecated`, `include_in_schema`, `default_response_class` and
    `generate_unique_id_function` apply to every HTTP route added to it, as in FastAPI.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: list[str | Enum] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        default_response_class: type[Response] | None = None,
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        generate_unique_id_function: Callable[[APIRoute], str] | None = None,
        strict_content_type: bool = True,
    ) -> None:
        super().__init__(routes=routes, redirect_slashes=redirect_slashes, lifespan=lifespan)
        check_options("APIRouter", {"callbacks": callbacks}, IncludeOptions)
        if prefix and not (prefix.startswith("/") and not prefix.endswith("/")):
            raise ValueError(f"a prefix starts with '/' and does not end with '/', not {prefix!r}")
        self.prefix = prefix
        self.tags = list(tags or [])
        self.dependencies = list(dependencies or [])
        self.default_response_class = default_response_class
        self.responses = dict(responses or {})
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.generate_unique_id_function = generate_unique_id_function
        self.strict_content_type = strict_content_type
        self.on_startup = list(on_startup or [])
        self.on_shutdown = list(on_shutdown or [])
        self.user_lifespan_context = self.lifespan_context
        self.lifespan_context = self._lifespan_with_events
        self.included_lifespans: list[Lifespan[Any]] = []

    @asynccontextmanager
    async def _lifespan_with_events(self, app: Any) -> AsyncIterator[Any]:
        """`on_startup` handlers, then the lifespan; on the way out, the lifespan's end, then `on_shutdown`."""
        for handler in self.on_startup:
            await _call_event_handler(handler)
        async with self.user_lifespan_context(app) as state:
            yield state
        for handler in self.on_shutdown:
            await _call_event_handler(handler)

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        if event_type == "startup":
            self.on_startup.append(func)
        elif event_type == "shutdown":
            self.on_shutdown.append(func)
        else:
            raise ValueError(f"unknown event {event_type!r}: it is 'startup' or 'shutdown'")

    @deprecated(ON_EVENT_DEPRECATED)
    def on_event(self, event_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """`@router.on_event("startup")`: deprecated, as in FastAPI, in favour of `lifespan`; still supported."""
        return event_decorator(self.add_event_handler, event_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # A connection keeps its coroutine frames as long as it is open: its route's app is called from here,
            # not through Starlette's `Router.app` and `route.handle` (two frames more per connection).
            await self._websocket_app(scope)(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _websocket_app(self, scope: Scope) -> ASGIApp:
        """What serves a WebSocket `scope`, chosen as Starlette's router chooses it (the first full match, else the
        first partial one, else `default`), with the scope updated as it does."""
        scope.setdefault("router", self)
        chosen: tuple[BaseRoute, Scope] | None = None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                chosen = route, child_scope
                break
            if match is Match.PARTIAL and chosen is None:
                chosen = route, child_scope
        if chosen is None:
            return self.default
        route, child_scope = chosen
        scope["route"] = route
        scope.update(child_scope)
        # An APIWebSocketRoute's `handle` only awaits its app; another route's may do more.
        return route.app if isinstance(route, APIWebSocketRoute) else route.handle

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and "websocket.http.response" in scope.get("extensions", {}):
            websocket = WebSocket(scope, receive, send)
            await websocket.send_denial_response(PlainTextResponse("Not Found", status_code=404))
        elif scope["type"] == "websocket":
            await WebSocketClose()(scope, receive, send)
        else:
            await super().not_found(scope, receive, send)

    # HTTP routes

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Unpack[RouteOptions]) -> None:
        """Add an HTTP route; the router's tags, responses and dependencies come before the route's own."""
        options["dependencies"] = [*self.dependencies, *(options.get("dependencies") or [])]
        options["tags"] = [*self.tags, *(options.get("tags") or [])]
        options["responses"] = {**self.responses, **(options.get("responses") or {})}
        options["deprecated"] = options.get("deprecated") or self.deprecated
        options["include_in_schema"] = options.get("include_in_schema", True) and self.include_in_schema
        options["response_class"] = options.get("response_class") or self.default_response_class
        options.setdefault("generate_unique_id_function", self.generate_unique_id_function)
        options.setdefault("strict_content_type", self.strict_content_type)
        self.routes.append(APIRoute(self.prefix + path, endpoint, **options))

    def api_route(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        check_options(path, options, RouteOptions)

        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_api_route(path, func, **options)
            return func

        return decorator

    def get(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["GET"], **options)

    def post(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["POST"], **options)

    def put(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["PUT"], **options)

    def patch(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["PATCH"], **options)

    def delete(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["DELETE"], **options)

    def head(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["HEAD"], **options)

    def options(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["OPTIONS"], **options)

    def trace(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.api_route(path, methods=["TRACE"], **options)

    # WebSocket routes

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any] | MessageRouter,
        name: str | None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None:
        options["dependencies"] = [*self.dependencies, *(options.get("dependencies") or [])]
        self.routes.append(APIWebSocketRoute(self.prefix + path, endpoint, name=name, **options))

    def websocket(
        self, path: str, name: str | None = None, **options: Unpack[WebSocketOptions]
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_api_websocket_route(path, func, name=name, **options)
            return func

        return decorator

    # Plain Starlette routes: the endpoint takes the request or the websocket, nothing is injected

    def add_route(
        self,
        path: str,
        endpoint: Callable[[Request], Any],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        route = Route(self.prefix + path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        self.routes.append(route)

    def route(
        self, path: str, methods: Collection[str] | None = None, name: str | None = None, include_in_schema: bool = True
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_route(path, func, methods=methods, name=name, include_in_schema=include_in_schema)
            return func

        return decorator

    def add_websocket_route(self, path: str, endpoint: Callable[[WebSocket], Any], name: str | None = None) -> None:
        self.routes.append(WebSocketRoute(self.prefix + path, endpoint, name=name))

    def websocket_route(self, path: str, name: str | None = None) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_websocket_route(path, func, name=name)
            return func

        return decorator

    # Composition

    def include_router(self, router: APIRouter, **options: Unpack[IncludeOptions]) -> None:
        """Add `router`'s routes under `prefix`; dependencies apply outermost first: self, include, router, route.

        The include's `tags` and `responses` come before each route's own; `deprecated`, `include_in_schema` and
        `default_response_class` apply to the routes that do not say otherwise.
        """
        prefix = options.get("prefix", "")
        if prefix and not (prefix.startswith("/") and not prefix.endswith("/")):
            raise ValueError(f"a prefix starts with '/' and does not end with '/', not {prefix!r}")
        check_options("include_router", options, IncludeOptions)
        extra = list(options.get("dependencies") or [])
        for route in router.routes:
            if isinstance(route, APIRoute):
                merged = route.options.copy()
                merged["methods"] = route.declared_methods
                merged["dependencies"] = [*extra, *route.dependencies]
                merged["tags"] = [*(options.get("tags") or []), *route.tags]
                merged["responses"] = {**(options.get("responses") or {}), **route.responses}
                merged["deprecated"] = route.deprecated or options.get("deprecated")
                merged["include_in_schema"] = route.include_in_schema and options.get("include_in_schema", True)
                merged["response_class"] = merged.get("response_class") or options.get("default_response_class")
                merged["generate_unique_id_function"] = merged.get("generate_unique_id_function") or options.get(
                    "generate_unique_id_function"
                )
                self.add_api_route(prefix + route.path, route.endpoint, **merged)
            elif isinstance(route, APIWebSocketRoute):
                self.add_api_websocket_route(
                    prefix + route.path,
                    route.endpoint,
                    name=route.name,
                    dependencies=[*extra, *route.dependencies],
                    allowed_origins=route.allowed_origins,
                    rate_limit=route.rate_limit,
                    max_message_size=route.max_message_size,
                )
            else:
                self.routes.append(_moved(route, self.prefix + prefix))
        # The router's own lifespan and events run inside this one's, once however often it is included.
        if router.lifespan_context not in self.included_lifespans:
            self.included_lifespans.append(router.lifespan_context)
            self.lifespan_context = _nested(self.lifespan_context, router.lifespan_context)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.routes.append(Mount(self.prefix + path, app=app, name=name))


def _handling_errors(app: ASGIApp) -> ASGIApp:
    """A class endpoint whose exceptions go to the app's exception handlers first, as a function endpoint's do."""

    async def handled(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            connection: Connection | None = scope.get(CONNECTION_KEY)
            websocket = connection.websocket if connection is not None else None
            if not await handle_websocket_error(websocket or WebSocket(scope, receive, send), exc):
                raise

    return handled


def _moved(route: BaseRoute, prefix: str) -> BaseRoute:
    """A Starlette route under `prefix`: a copy with its path compiled again, keeping everything else it holds."""
    if not prefix:
        return route
    if not isinstance(route, Route | WebSocketRoute | Mount):
        raise TypeError(f"a {type(route).__name__} has no path to put under the prefix {prefix!r}")
    moved = copy.copy(route)
    if isinstance(moved, Mount):
        moved.path = (prefix + moved.path).rstrip("/")
        moved.path_regex, moved.path_format, moved.param_convertors = compile_path(moved.path + "/{path:path}")
    else:
        moved.path = prefix + moved.path
        moved.path_regex, moved.path_format, moved.param_convertors = compile_path(moved.path)
    return moved


def _nested(outer: Lifespan[Any], inner: Lifespan[Any]) -> Lifespan[Any]:
    """One lifespan running `inner` inside `outer`; its state is both states merged (the inner one's keys win)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Mapping[str, Any] | None]:
        async with outer(app) as outer_state, inner(app) as inner_state:
            if outer_state is None and inner_state is None:
                yield None
            else:
                yield {**(outer_state or {}), **(inner_state or {})}

    return lifespan  # type: ignore[return-value]  # stateful when either is: Starlette's union cannot say so


def route_origin_policies(routes: Sequence[BaseRoute]) -> list[tuple[BaseRoute, OriginPolicy]]:
    """The WebSocket routes with allowed origins of their own; one under a `Mount` is an error (never matched)."""
    policies: list[tuple[BaseRoute, OriginPolicy]] = []
    for route in routes:
        if isinstance(route, APIWebSocketRoute) and route.origin_policy is not None:
            policies.append((route, route.origin_policy))
        elif isinstance(route, Mount) and route_origin_policies(route.routes):
            raise ValueError(f"allowed_origins on a route under the mount {route.path!r}: set it on the app instead")
    return policies
