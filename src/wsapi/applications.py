"""The application: a Starlette app whose router runs the dependency engine, with FastAPI's constructor habits."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler, Lifespan

from wsapi.exceptions import DEFAULT_HANDLERS
from wsapi.params import Dependency
from wsapi.routing import APIRouter, DecoratedCallable

if TYPE_CHECKING:
    from wsapi.channels import Channels


class WsAPI(Starlette):
    """The wsapi application. `FastAPI` is exported as an alias, so that ported code needs only its imports changed."""

    router: APIRouter

    def __init__(
        self,
        *,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        dependencies: Sequence[Dependency] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[Any] | None = None,
        title: str = "wsapi",
        version: str = "0.1.0",
        description: str = "",
        channels: Channels | None = None,
    ) -> None:
        handlers: dict[Any, ExceptionHandler] = {**DEFAULT_HANDLERS, **(exception_handlers or {})}
        super().__init__(debug=debug, middleware=middleware, exception_handlers=handlers)
        self.router = APIRouter(routes=routes, dependencies=dependencies, lifespan=lifespan)
        self.title = title
        self.version = version
        self.description = description
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        # The channels hub runs around the user's lifespan: started before it, stopped after it.
        self.channels = channels
        if channels is not None:
            self.router.lifespan_context = channels.around(self.router.lifespan_context)

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
        assert middleware_type == "http", "only HTTP function middleware exists; use a class for WebSockets"
        from starlette.middleware.base import BaseHTTPMiddleware

        def decorator(func: DecoratedCallable) -> DecoratedCallable:
            self.add_middleware(BaseHTTPMiddleware, dispatch=func)
            return func

        return decorator

    # Route registration goes through the app's router, so app-level dependencies apply to every route.

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        self.router.add_api_route(path, endpoint, **options)

    def api_route(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.api_route(path, **options)

    def get(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.get(path, **options)

    def post(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.post(path, **options)

    def put(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.put(path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.patch(path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.delete(path, **options)

    def add_api_websocket_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None = None,
        *,
        dependencies: Sequence[Dependency] | None = None,
    ) -> None:
        self.router.add_api_websocket_route(path, endpoint, name, dependencies=dependencies)

    def websocket(
        self, path: str, name: str | None = None, *, dependencies: Sequence[Dependency] | None = None
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        return self.router.websocket(path, name, dependencies=dependencies)

    def include_router(
        self, router: APIRouter, *, prefix: str = "", dependencies: Sequence[Dependency] | None = None
    ) -> None:
        self.router.include_router(router, prefix=prefix, dependencies=dependencies)


FastAPI = WsAPI

__all__ = ["FastAPI", "JSONResponse", "Response", "WsAPI"]
