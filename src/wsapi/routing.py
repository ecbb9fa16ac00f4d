"""Routes and routers: Starlette's matching underneath, the dependency engine in front of each endpoint."""

from __future__ import annotations

import copy
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from typing import Any, TypedDict, TypeVar, Unpack

from pydantic_core import to_jsonable_python
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router, WebSocketRoute, compile_path
from starlette.types import ASGIApp, Lifespan, Receive, Scope, Send
from starlette.websockets import WebSocketClose, WebSocketDisconnect, WebSocketState

from wsapi.concurrency import is_async_callable
from wsapi.connections import CONNECTION_KEY, Connection
from wsapi.dependencies import NO_BODY, Dependant, Solver, analyse
from wsapi.dependencies.solving import Overrides
from wsapi.exceptions import (
    EndpointContext,
    RequestValidationError,
    WebSocketRequestValidationError,
    endpoint_context,
    handle_websocket_error,
)
from wsapi.limits import FROM_APP, RateLimit
from wsapi.messages import Dispatcher, MessageRouter
from wsapi.metrics import OFF, Hooks
from wsapi.origins import OriginPolicy
from wsapi.params import Dependency
from wsapi.websockets import WebSocket

logger = logging.getLogger("wsapi")

DecoratedCallable = TypeVar("DecoratedCallable", bound=Callable[..., Any])


def _overrides(scope: Scope) -> Overrides | None:
    return getattr(scope.get("app"), "dependency_overrides", None)


class MethodOptions(TypedDict, total=False):
    """What an HTTP route takes besides its path and endpoint (`methods` aside, for `get`, `post`, ...)."""

    name: str | None
    dependencies: Sequence[Dependency]
    status_code: int | None
    response_class: type[Response]
    include_in_schema: bool


class RouteOptions(MethodOptions, total=False):
    methods: Sequence[str] | None


class APIRoute(Route):
    """An HTTP route whose endpoint gets its arguments from the dependency engine and may return plain data."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Sequence[str] | None = None,
        name: str | None = None,
        dependencies: Sequence[Dependency] | None = None,
        status_code: int | None = None,
        response_class: type[Response] = JSONResponse,
        include_in_schema: bool = True,
    ) -> None:
        super().__init__(path, endpoint, methods=methods, name=name, include_in_schema=include_in_schema)
        self.dependencies = list(dependencies or [])
        self.status_code = status_code
        self.response_class = response_class
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
        self.reads_body = bool(body_fields)
        self.encodes_json = issubclass(response_class, JSONResponse)
        self.app = self.handle_request

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            await self._respond(request, send)

        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    async def _respond(self, request: Request, send: Send) -> None:
        scope = request.scope
        body = await self._read_body(request) if self.reads_body else NO_BODY
        # Yield-dependencies of scope "function" are torn down when the endpoint returns, the others after the
        # response has been sent.
        async with AsyncExitStack() as stack:
            async with AsyncExitStack() as function_stack:
                solver = Solver(
                    request, stack, _overrides(scope), body, function_stack=function_stack, whole_body=self.whole_body
                )
                values, errors = await solver.solve(self.dependant)
                if errors:
                    raise RequestValidationError(
                        errors, body=None if body is NO_BODY else body, endpoint_ctx=self.endpoint_context(request)
                    )
                result = await solver.call(self.dependant, values)
            response = result if isinstance(result, Response) else self._response(result)
            await response(scope, request.receive, send)

    def endpoint_context(self, request: Request) -> EndpointContext:
        return endpoint_context(self.endpoint, f"{request.method} {request.scope.get('root_path', '')}{self.path}")

    def _response(self, result: Any) -> Response:
        content = to_jsonable_python(result) if self.encodes_json else result
        if self.status_code is None:
            return self.response_class(content)
        return self.response_class(content, status_code=self.status_code)

    @staticmethod
    async def _read_body(request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return NO_BODY
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error]) from exc


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
        websocket = WebSocket(scope, receive, send)
        overrides = _overrides(scope)
        connection: Connection | None = scope.get(CONNECTION_KEY)
        if connection is not None:
            connection.websocket = websocket
            if self.rate_limit != "app" or self.max_message_size is not None:
                self._use_limits(connection)
        try:
            # An override may bring yield-dependencies the plan does not have: with overrides, both stacks exist.
            async with AsyncExitStack() if self.needs_exit_stack or overrides else nullcontext() as stack:
                disconnect = await self.run(websocket, Solver(websocket, stack, overrides))
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

    async def run(self, websocket: WebSocket, solver: Solver) -> WebSocketDisconnect | None:
        """Solve the handshake's dependencies and run the endpoint; yield-dependencies end with the connection,
        those of scope "function" (in a stack of their own) as soon as the endpoint returns.

        The client leaving while the endpoint receives is how a WebSocket normally ends: the `WebSocketDisconnect`
        is returned rather than raised, so that yield-dependencies tear down as after a return instead of having it
        thrown into them as an error; it is raised after their teardown.
        """
        dependant: Dependant = self.dependant  # type: ignore[assignment]  # a class endpoint is not run here
        function_stack = self.needs_function_stack or solver.overrides
        async with AsyncExitStack() if function_stack else nullcontext() as solver.function_stack:
            values, errors = await solver.solve(dependant)
            if errors:
                raise WebSocketRequestValidationError(errors, endpoint_ctx=self.endpoint_context(websocket))
            if websocket.application_state is WebSocketState.DISCONNECTED:
                return None  # a dependency closed the connection itself (the guide's older style)
            try:
                await solver.call(dependant, values)
                if self.dispatcher is not None:
                    await self.dispatcher.serve(websocket, solver)
            except WebSocketDisconnect as disconnect:
                return disconnect
        return None


class APIRouter(Router):
    """A group of routes with a shared prefix and dependencies, included into an app or another router."""

    def __init__(
        self,
        *,
        prefix: str = "",
        dependencies: Sequence[Dependency] | None = None,
        routes: Sequence[BaseRoute] | None = None,
        redirect_slashes: bool = True,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        super().__init__(routes=routes, redirect_slashes=redirect_slashes, lifespan=lifespan)
        if prefix and not (prefix.startswith("/") and not prefix.endswith("/")):
            raise ValueError(f"a prefix starts with '/' and does not end with '/', not {prefix!r}")
        self.prefix = prefix
        self.dependencies = list(dependencies or [])
        self.included_lifespans: list[Lifespan[Any]] = []

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
        options["dependencies"] = [*self.dependencies, *options.get("dependencies", [])]
        self.routes.append(APIRoute(self.prefix + path, endpoint, **options))

    def api_route(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
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

    def include_router(
        self, router: APIRouter, *, prefix: str = "", dependencies: Sequence[Dependency] | None = None
    ) -> None:
        """Add `router`'s routes under `prefix`; dependencies apply outermost first: self, include, router, route.

        Routes of its own are analysed again with the added dependencies; Starlette's routes are moved under the
        prefix as they are (name, middleware, `include_in_schema` kept). The router's lifespan runs inside this
        one's, once however often the router is included; their states are merged.
        """
        if prefix and not (prefix.startswith("/") and not prefix.endswith("/")):
            raise ValueError(f"a prefix starts with '/' and does not end with '/', not {prefix!r}")
        extra = list(dependencies or [])
        for route in router.routes:
            if isinstance(route, APIRoute):
                self.add_api_route(
                    prefix + route.path,
                    route.endpoint,
                    methods=sorted(route.methods or []),
                    name=route.name,
                    dependencies=[*extra, *route.dependencies],
                    status_code=route.status_code,
                    response_class=route.response_class,
                    include_in_schema=route.include_in_schema,
                )
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
        if router.lifespan_context not in self.included_lifespans:
            self.included_lifespans.append(router.lifespan_context)
            self.lifespan_context = _nested(self.lifespan_context, router.lifespan_context)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.routes.append(Mount(self.prefix + path, app=app, name=name))


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
