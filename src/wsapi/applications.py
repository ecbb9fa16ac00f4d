"""The application: a Starlette app whose router runs the dependency engine, with FastAPI's constructor habits."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, ExceptionHandler, Lifespan, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from typing_extensions import deprecated

from wsapi.asyncapi import build_document
from wsapi.asyncapi.endpoints import asyncapi_routes
from wsapi.connections import CONNECTION_KEY, Connection, Connections, Refused
from wsapi.exceptions import DEFAULT_HANDLERS, DISCONNECT_KEY, close_after_error
from wsapi.limits import DEFAULT_LIMITS, Limits
from wsapi.messages import MessageRouter
from wsapi.metrics import OFF, Hooks
from wsapi.openapi.endpoints import DocsConfig, openapi_routes
from wsapi.openapi.utils import get_openapi
from wsapi.origins import OriginPolicy
from wsapi.params import Dependency
from wsapi.redaction import install_redaction
from wsapi.routing import (
    ON_EVENT_DEPRECATED,
    APIRoute,
    APIRouter,
    DecoratedCallable,
    IncludeOptions,
    MethodOptions,
    RouteOptions,
    WebSocketOptions,
    event_decorator,
    route_origin_policies,
)

if TYPE_CHECKING:
    from wsapi.channels import Channels


class WsAPI(Starlette):
    """The wsapi application. `FastAPI` is exported too, so that ported code needs only its imports changed."""

    router: APIRouter
    default_title = "wsapi"

    def __init__(
        self,
        *,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        title: str | None = None,
        summary: str | None = None,
        description: str = "",
        version: str = "0.1.0",
        openapi_url: str | None = "/openapi.json",
        openapi_tags: list[dict[str, Any]] | None = None,
        servers: list[dict[str, Any]] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        default_response_class: type[Response] | None = None,
        redirect_slashes: bool = True,
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        swagger_ui_oauth2_redirect_url: str | None = "/docs/oauth2-redirect",
        swagger_ui_init_oauth: dict[str, Any] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        on_startup: Sequence[Callable[[], Any]] | None = None,
        on_shutdown: Sequence[Callable[[], Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        terms_of_service: str | None = None,
        contact: dict[str, Any] | None = None,
        license_info: dict[str, Any] | None = None,
        root_path: str = "",
        root_path_in_servers: bool = True,
        responses: dict[int | str, dict[str, Any]] | None = None,
        callbacks: list[BaseRoute] | None = None,
        webhooks: APIRouter | None = None,
        deprecated: bool | None = None,
        include_in_schema: bool = True,
        swagger_ui_parameters: dict[str, Any] | None = None,
        generate_unique_id_function: Callable[[APIRoute], str] | None = None,
        separate_input_output_schemas: bool = True,
        openapi_external_docs: dict[str, Any] | None = None,
        strict_content_type: bool = True,
        asyncapi_url: str | None = "/asyncapi.json",
        asyncapi_docs_url: str | None = "/asyncapi",
        channels: Channels | None = None,
        allowed_origins: Sequence[str] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        handlers: dict[Any, ExceptionHandler] = {**DEFAULT_HANDLERS, **(exception_handlers or {})}
        super().__init__(debug=debug, middleware=middleware, exception_handlers=handlers)
        self.router = APIRouter(
            routes=routes,
            dependencies=dependencies,
            default_response_class=default_response_class,
            responses=responses,
            callbacks=callbacks,
            redirect_slashes=redirect_slashes,
            on_startup=on_startup,
            on_shutdown=on_shutdown,
            lifespan=lifespan,
            deprecated=deprecated,
            include_in_schema=include_in_schema,
            generate_unique_id_function=generate_unique_id_function,
            strict_content_type=strict_content_type,
        )
        self.title = self.default_title if title is None else title
        self.summary = summary
        self.version = version
        self.description = description
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        self.openapi_version = "3.1.0"
        self.openapi_tags = openapi_tags
        self.openapi_external_docs = openapi_external_docs
        self.servers = list(servers or [])
        self.root_path = root_path
        self.root_path_in_servers = root_path_in_servers
        self.webhooks = webhooks or APIRouter()
        self.separate_input_output_schemas = separate_input_output_schemas
        self.docs = DocsConfig(
            openapi_url=openapi_url,
            docs_url=docs_url if openapi_url else None,
            redoc_url=redoc_url if openapi_url else None,
            oauth2_redirect_url=swagger_ui_oauth2_redirect_url,
            init_oauth=swagger_ui_init_oauth,
            swagger_ui_parameters=swagger_ui_parameters,
            asyncapi_docs_url=asyncapi_docs_url if asyncapi_url else None,
        )
        self.openapi_url = openapi_url
        self.docs_url = self.docs.docs_url
        self.redoc_url = self.docs.redoc_url
        self.swagger_ui_oauth2_redirect_url = swagger_ui_oauth2_redirect_url
        self.swagger_ui_init_oauth = swagger_ui_init_oauth
        self.swagger_ui_parameters = swagger_ui_parameters
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.websocket_stack: ASGIApp | None = None
        self.websocket_exception_handlers: tuple[dict[Any, ExceptionHandler], dict[int, ExceptionHandler]] = ({}, {})
        self.openapi_schema: dict[str, Any] | None = None
        self.asyncapi_schema: dict[str, Any] | None = None
        # Every handshake passes the origin check and the limits before any route sees it (see wsapi.connections).
        self.connections = Connections(limits, OriginPolicy(allowed_origins))
        install_redaction()
        self.router.routes.extend(openapi_routes(self.docs))
        if asyncapi_url:
            self.router.routes.extend(asyncapi_routes(asyncapi_url, asyncapi_docs_url))
        self.metrics: Hooks = OFF  # `wsapi.metrics.serve_metrics(app)` turns them on
        # The channels hub runs around the user's lifespan: started before it, stopped after it.
        self.channels = channels
        if channels is not None:
            channels.connections = self.connections
            self.router.lifespan_context = channels.around(self.router.lifespan_context)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app's HTTP routes, built on first use (set `openapi_schema` to replace
        it, as FastAPI's "extending OpenAPI" recipe does)."""
        if self.openapi_schema is None:
            self.openapi_schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                summary=self.summary,
                description=self.description,
                terms_of_service=self.terms_of_service,
                contact=self.contact,
                license_info=self.license_info,
                routes=self.routes,
                webhooks=self.webhooks.routes,
                tags=self.openapi_tags,
                servers=self.servers,
                separate_input_output_schemas=self.separate_input_output_schemas,
                external_docs=self.openapi_external_docs,
            )
        return self.openapi_schema

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI 3.0 document of the app's WebSocket routes, built on first use (set `asyncapi_schema` to
        replace it)."""
        if self.asyncapi_schema is None:
            self.asyncapi_schema = build_document(
                title=self.title, version=self.version, description=self.description, routes=self.routes
            )
        return self.asyncapi_schema

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.root_path:
            scope["root_path"] = self.root_path
        if scope["type"] != "websocket":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        if self.websocket_stack is None:
            self.websocket_stack = self.build_websocket_stack()
        scope["starlette.exception_handlers"] = self.websocket_exception_handlers
        try:
            connection = self.connections.admit(scope, receive, send)
        except Refused as refusal:
            await refusal.deny(scope, receive, send)
            return
        try:
            await self.websocket_stack(scope, connection.receive, send)
        except WebSocketDisconnect:
            if scope.get(DISCONNECT_KEY):
                raise
        except Exception:
            # The endpoint's WebSocket knows how far the connection got (a mounted wsapi app's, if the error came
            # through one: it has closed it already); without one, the error came before any endpoint ran.
            innermost: Connection = scope[CONNECTION_KEY]
            await close_after_error(innermost.websocket or WebSocket(scope, receive, send))
            raise
        finally:
            self.connections.release(connection)
        # Scope, connection and WebSocket form a cycle: broken here, refcounting frees them at once, not the GC. (On
        # an error the app still reads the WebSocket; that rare connection is left to the GC.)
        connection.websocket = None

    def build_websocket_stack(self) -> ASGIApp:
        """User middleware, then the router: Starlette's error and exception middleware are left out for WebSockets.

        The first only acts on HTTP; the second's work is done by the WebSocket route itself (see
        `handle_websocket_error`), which saves a send wrapper per message and frames kept per connection. What no
        handler takes propagates through the user middleware to `__call__`, which closes with 1011 and re-raises.
        """
        status_handlers = {k: v for k, v in self.exception_handlers.items() if isinstance(k, int)}
        exception_handlers = {
            k: v for k, v in self.exception_handlers.items() if not isinstance(k, int) and k is not Exception
        }
        self.websocket_exception_handlers = (exception_handlers, status_handlers)
        self.connections.route_origins = route_origin_policies(self.router.routes)
        app: ASGIApp = self.router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        if self.websocket_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        super().add_middleware(middleware_class, *args, **kwargs)

    def add_exception_handler(self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler) -> None:
        self.exception_handlers[exc_class_or_status_code] = handler

    def exception_handler(
        self, exc_class_or_status_code: int | type[Exception]
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_exception_handler(exc_class_or_status_code, func)
            return func

        return decorator

    def middleware(self, middleware_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """`@app.middleware("http")`: a function `(request, call_next) -> response`, as in FastAPI."""
        if middleware_type != "http":
            raise ValueError(
                f"function middleware is for HTTP (@app.middleware('http')), not {middleware_type!r}; "
                "WebSocket middleware is a class given to add_middleware or middleware=[...]"
            )
        from starlette.middleware.base import BaseHTTPMiddleware

        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator

    def add_event_handler(self, event_type: str, func: Callable[[], Any]) -> None:
        self.router.add_event_handler(event_type, func)

    @deprecated(ON_EVENT_DEPRECATED)
    def on_event(self, event_type: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """`@app.on_event("startup")` / `("shutdown")`: deprecated, as in FastAPI, in favour of `lifespan`; still
        supported; handlers run around the lifespan (startup handlers first, shutdown handlers last)."""
        return event_decorator(self.router.add_event_handler, event_type)

    # Route registration goes through the app's router, so app-level dependencies apply to every route.

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Unpack[RouteOptions]) -> None:
        self.router.add_api_route(path, endpoint, **options)

    def api_route(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.api_route(path, **options)

    def get(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.get(path, **options)

    def post(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.post(path, **options)

    def put(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.put(path, **options)

    def patch(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.patch(path, **options)

    def delete(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.delete(path, **options)

    def head(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.head(path, **options)

    def options(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.options(path, **options)

    def trace(self, path: str, **options: Unpack[MethodOptions]) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.trace(path, **options)

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any] | MessageRouter,
        name: str | None = None,
        **options: Unpack[WebSocketOptions],
    ) -> None:
        self.router.add_api_websocket_route(path, endpoint, name, **options)

    def websocket(
        self, path: str, name: str | None = None, **options: Unpack[WebSocketOptions]
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.websocket(path, name, **options)

    def route(
        self, path: str, methods: Collection[str] | None = None, name: str | None = None, include_in_schema: bool = True
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A plain Starlette route: the endpoint takes the request, nothing is injected."""
        return self.router.route(path, methods=methods, name=name, include_in_schema=include_in_schema)

    def add_websocket_route(self, path: str, endpoint: Callable[[WebSocket], Any], name: str | None = None) -> None:
        self.router.add_websocket_route(path, endpoint, name=name)

    def websocket_route(self, path: str, name: str | None = None) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """A plain Starlette WebSocket route: the endpoint takes the websocket, nothing is injected."""
        return self.router.websocket_route(path, name=name)

    def include_router(self, router: APIRouter, **options: Unpack[IncludeOptions]) -> None:
        self.router.include_router(router, **options)


class FastAPI(WsAPI):
    """`WsAPI` under FastAPI's name, for ported code: the same application with FastAPI's default title, so that a
    ported app's OpenAPI document and docs pages are the ones its tests expect."""

    default_title = "FastAPI"


__all__ = ["FastAPI", "JSONResponse", "Response", "WsAPI"]
