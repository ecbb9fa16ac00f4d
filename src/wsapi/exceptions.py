"""Exceptions and the default handlers that turn them into close frames (WebSocket) or responses (HTTP).

Close codes wsapi sends on its own (RFC 6455, section 7.4.1):

- 1008 policy violation: the handshake failed validation or authentication; the reason names the first bad field.
- 1007 invalid payload data: `receive_json()` got text that is not JSON.
- 1011 internal error: the endpoint raised an exception no handler took. As in Starlette, the exception then
  propagates out of the app, through user middleware, to the server (which logs it) or the test client (which
  raises it in the test); the app closes the connection with 1011 on its way out, accepted or not.

A `WebSocketDisconnect` that escapes the endpoint (the client left while it was receiving) is how connections
normally end: it reaches user middleware, then the app ends the connection quietly, unless a test client asked
for it (`DISCONNECT_KEY`) to re-raise it at the end of the session as Starlette's does.

A connection refused with a code is accepted and then closed at once, because a close before the handshake
completes reaches a client only as a bare HTTP 403: this way browsers and client libraries see the code and reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, TypedDict

from pydantic_core import to_jsonable_python
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope
from starlette.websockets import WebSocket, WebSocketState

from wsapi import status
from wsapi.concurrency import is_async_callable, unwrapped

logger = logging.getLogger("wsapi")

MAX_CLOSE_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of which carry the code
REFUSAL_KEY = "wsapi.refusal"  # marks the accept message of an accept-then-close refusal
DISCONNECT_KEY = "wsapi.raise_disconnect"  # set by test clients: re-raise an escaped WebSocketDisconnect

__all__ = [
    "DependencyScopeError",
    "EndpointContext",
    "FastAPIError",
    "HTTPException",
    "RequestValidationError",
    "ResponseValidationError",
    "ValidationException",
    "WebSocketException",
    "WebSocketRequestValidationError",
    "WsAPIError",
    "close_reason",
    "refuse",
]


class WsAPIError(RuntimeError):
    """Something the application declared cannot work; raised when the route or app is created.

    `FastAPIError` is the same class, so that ported code catching it still does.
    """


FastAPIError = WsAPIError


class DependencyScopeError(WsAPIError):
    """A dependency torn down with the request depends on one torn down as soon as the endpoint returns."""


class HTTPException(StarletteHTTPException):
    """An HTTP error response; `detail` may be any JSON-serialisable value."""

    def __init__(self, status_code: int, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.detail: Any = detail if detail is not None else self.detail


class EndpointContext(TypedDict, total=False):
    """Where a validation error happened: the endpoint's function, file and first line, and its route."""

    function: str
    path: str  # e.g. "GET /items/{item_id}", with the mount path of a sub-application in front
    file: str
    line: int


class ValidationException(Exception):
    """Validation errors (pydantic's dicts, located on the wire), and the endpoint they were met at."""

    def __init__(self, errors: Sequence[Any], *, endpoint_ctx: EndpointContext | None = None) -> None:
        super().__init__(errors)
        self._errors = list(errors)
        self.endpoint_ctx: EndpointContext = endpoint_ctx or {}

    def errors(self) -> list[Any]:
        return self._errors

    def __str__(self) -> str:
        count = len(self._errors)
        lines = [f"{count} validation error{'' if count == 1 else 's'}:", *(f"  {error}" for error in self._errors)]
        ctx = self.endpoint_ctx
        if "function" in ctx and "file" in ctx and "line" in ctx:
            # As a traceback names a frame, so that editors and terminals link to the endpoint.
            lines.append(f'  File "{ctx["file"]}", line {ctx["line"]}, in {ctx["function"]}')
            if "path" in ctx:
                lines.append(f"    {ctx['path']}")
        elif "path" in ctx:
            lines.append(f"  Endpoint: {ctx['path']}")
        return "\n".join(lines)


class RequestValidationError(ValidationException):
    """An HTTP request's parameters or body failed validation: answered with 422 and the errors as `detail`."""

    def __init__(self, errors: Sequence[Any], *, body: Any = None, endpoint_ctx: EndpointContext | None = None) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body


class WebSocketRequestValidationError(ValidationException):
    """A WebSocket handshake's parameters failed validation: the connection is refused with 1008."""


class ResponseValidationError(ValidationException):
    """What an endpoint returned does not match its response model: a server error, not the client's."""

    def __init__(self, errors: Sequence[Any], *, body: Any = None, endpoint_ctx: EndpointContext | None = None) -> None:
        super().__init__(errors, endpoint_ctx=endpoint_ctx)
        self.body = body


def endpoint_context(endpoint: Callable[..., Any], path: str) -> EndpointContext:
    """`endpoint`'s name, file and line (those it has), for the route `path`."""
    target = unwrapped(endpoint)
    code = getattr(target, "__code__", None) or getattr(getattr(target, "__call__", None), "__code__", None)  # noqa: B004
    ctx: EndpointContext = {"function": getattr(target, "__name__", type(target).__name__), "path": path}
    if code is not None:
        ctx["file"], ctx["line"] = code.co_filename, code.co_firstlineno
    return ctx


def close_reason(text: str) -> str:
    """`text` cut to fit a close frame (123 bytes of UTF-8) without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


def describe_errors(errors: Sequence[Any]) -> str:
    """A one-line summary such as `query.token: Field required (+1 more)`."""
    if not errors:
        return "validation failed"
    first = errors[0]
    text = f"{'.'.join(str(part) for part in first['loc'])}: {first['msg']}"
    if len(errors) > 1:
        text += f" (+{len(errors) - 1} more)"
    return text


async def refuse(websocket: WebSocket, code: int, reason: str = "") -> None:
    """Close `websocket` with `code` and `reason`, so that the client sees both even before the handshake ended."""
    reason = close_reason(reason)
    if websocket.application_state is WebSocketState.CONNECTING:
        if websocket.client_state is WebSocketState.CONNECTING:
            await websocket.receive()  # the "websocket.connect" message
        # Servers ignore the extra key; the test client reads it to report a refused handshake.
        await websocket.send({"type": "websocket.accept", "subprotocol": None, "headers": [], REFUSAL_KEY: code})
    if websocket.application_state is WebSocketState.CONNECTED:
        await websocket.close(code, reason)


def _handler_for(scope: Scope, exc: Exception) -> Callable[..., Any] | None:
    """The app's handler for `exc`, looked up as Starlette's exception middleware does (status first, then MRO)."""
    exception_handlers, status_handlers = scope.get("starlette.exception_handlers", ({}, {}))
    if isinstance(exc, StarletteHTTPException) and exc.status_code in status_handlers:
        handler: Callable[..., Any] = status_handlers[exc.status_code]
        return handler
    for cls in type(exc).__mro__:
        if cls in exception_handlers:
            handler = exception_handlers[cls]
            return handler
    return None


async def handle_websocket_error(websocket: WebSocket, exc: Exception) -> bool:
    """Give `exc` to the app's handler for it; False if there is none, and the caller is to re-raise it.

    Malformed JSON from the client (`receive_json()`) is handled by default: closed with 1007, not an app error.
    A handler that raises raises out of here, as in Starlette.
    """
    handler = _handler_for(websocket.scope, exc)
    if handler is None:
        if not isinstance(exc, json.JSONDecodeError):
            return False
        logger.info("WebSocket %s sent malformed JSON: %s", websocket.url.path, exc)
        with suppress(Exception):  # the transport may be gone too
            await refuse(websocket, status.WS_1007_INVALID_FRAME_PAYLOAD_DATA, f"Invalid JSON: {exc.msg}")
        return True
    if is_async_callable(handler):
        response = await handler(websocket, exc)
    else:
        response = await run_in_threadpool(handler, websocket, exc)
    if response is not None:
        await response(websocket.scope, websocket.receive, websocket.send)
    return True


async def close_after_error(websocket: WebSocket) -> None:
    """Close with 1011 unless the connection is closed already; the exception itself goes on to the server."""
    if websocket.application_state is WebSocketState.DISCONNECTED:
        return
    try:
        await refuse(websocket, status.WS_1011_INTERNAL_ERROR, "Internal server error")
    except Exception:  # the transport is gone too: nothing more can be sent
        logger.debug("could not send close frame to %s", websocket.url.path, exc_info=True)


async def http_exception_handler(conn: HTTPConnection, exc: Exception) -> Response | None:
    assert isinstance(exc, StarletteHTTPException)
    headers = getattr(exc, "headers", None)
    if isinstance(conn, WebSocket):
        response = JSONResponse({"detail": to_jsonable_python(exc.detail)}, exc.status_code, headers)
        supports_denial = "websocket.http.response" in conn.scope.get("extensions", {})
        if conn.application_state is WebSocketState.CONNECTING and supports_denial:
            await conn.send_denial_response(response)
        else:
            await refuse(conn, status.WS_1008_POLICY_VIOLATION, str(exc.detail))
        return None
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse({"detail": to_jsonable_python(exc.detail)}, exc.status_code, headers)


async def request_validation_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": to_jsonable_python(exc.errors(), fallback=str)}, status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def websocket_request_validation_exception_handler(websocket: WebSocket, exc: Exception) -> None:
    assert isinstance(exc, WebSocketRequestValidationError)
    # Without the input: a rejected token would land in the log.
    errors = [{k: v for k, v in error.items() if k != "input"} for error in exc.errors()]
    logger.info("WebSocket %s refused: %s", websocket.url.path, errors)
    await refuse(websocket, status.WS_1008_POLICY_VIOLATION, describe_errors(exc.errors()))


async def websocket_exception_handler(websocket: WebSocket, exc: Exception) -> None:
    assert isinstance(exc, WebSocketException)
    await refuse(websocket, exc.code, exc.reason)


DEFAULT_HANDLERS: dict[Any, Any] = {
    StarletteHTTPException: http_exception_handler,
    WebSocketException: websocket_exception_handler,
    RequestValidationError: request_validation_exception_handler,
    WebSocketRequestValidationError: websocket_request_validation_exception_handler,
}
