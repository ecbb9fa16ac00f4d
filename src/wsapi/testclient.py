"""Test clients: Starlette's sync one, and an async one; both speak wsapi's typed messages.

wsapi refuses a handshake by accepting and closing at once (so real clients see the code); in tests that refusal
reads as what it is, a connection that never opened: `with client.websocket_connect(...)` raises.

As Starlette's, a session raises what the app raised: at once for an error before the handshake, else when the
session ends; that includes a `WebSocketDisconnect` that escaped the endpoint (an endpoint that receives until the
client leaves), so a test of one wraps its session in `pytest.raises(WebSocketDisconnect)`, as FastAPI's tests do.
With `raise_server_exceptions=False` the test sees only how the app closed (1011 for an error).

On a WebSocket session, `send_message(type, data)` sends an envelope, `receive_message()` returns the next frame
as a dict, and `request(type, data)` sends one with a fresh `id` and returns the frame that answers it (its reply,
ack or error); frames that arrive meanwhile are kept for `receive_message`. These wait at most `timeout` seconds
and raise `TimeoutError` after, so that a test fails instead of hanging.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, Self
from urllib.parse import unquote

import anyio
import httpx2 as httpx
from starlette import testclient as _starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from wsapi.exceptions import DISCONNECT_KEY, REFUSAL_KEY

WebSocketDenialResponse = _starlette.WebSocketDenialResponse

RECEIVE_TIMEOUT = 5.0
CLOSE_GRACE = 1.0

__all__ = [
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]


def _envelope(type: str, data: Any, id: Any) -> str:
    frame: dict[str, Any] = {"type": type}
    if id is not None:
        frame["id"] = id
    if data is not None:
        frame["data"] = data
    return json.dumps(frame)


def _unanswered(type: str, id: int, timeout: float) -> TimeoutError:
    return TimeoutError(f"no answer to {type!r} (id {id}) within {timeout:g}s")


def _waited(timeout: float) -> TimeoutError:
    return TimeoutError(f"nothing received from the server within {timeout:g}s")


def _unless_closed(message: Message) -> Message:
    """`message`, or `WebSocketDisconnect` with the code and reason if it is the server's close frame."""
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
    return message


class _Frames:
    """Typed-message bookkeeping of one session: the next request id, and frames put aside while waiting."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.put_aside: deque[dict[str, Any]] = deque()

    @staticmethod
    def decode(message: Message) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(_unless_closed(message)["text"])
        return frame


class WebSocketTestSession(_starlette.WebSocketTestSession):
    """Starlette's session, which raises what the app raised when the session ends (or at once, for an exception
    before the handshake); with `raise_server_exceptions=False` the test sees only how the app closed (1011)."""

    refused = False

    def __init__(
        self,
        app: ASGIApp,
        scope: Scope,
        portal_factory: _starlette._PortalFactoryType,
        *,
        raise_server_exceptions: bool = True,
    ) -> None:
        self._finished = threading.Event()
        self._app_error: Exception | None = None
        if raise_server_exceptions:
            scope[DISCONNECT_KEY] = True

        async def run(scope: Scope, receive: Receive, send: Send) -> None:
            closed = False

            async def watched(message: Message) -> None:
                nonlocal closed
                closed = closed or message["type"] in ("websocket.close", "websocket.http.response.start")
                await send(message)

            try:
                await app(scope, receive, watched)
            except Exception as exc:
                if not closed:
                    raise  # an app that did not close (not a wsapi one): Starlette's session raises it as it is
                # Kept, not raised, so that Starlette's session keeps its streams open: the close frame the app
                # sent on its way out is still there to be read. Raised when the session ends.
                if raise_server_exceptions:
                    self._app_error = exc
            finally:
                self._finished.set()

        super().__init__(run, scope, portal_factory)

    def __exit__(self, *args: Any) -> bool | None:
        # Starlette's session cancels the app as soon as it has sent the disconnect. Like the async session, the
        # app gets a moment to see it and finish first: its clean-up may await (a presence `leave` sent to Redis).
        if not self._finished.is_set():
            self.close(1000)
            self._finished.wait(CLOSE_GRACE)
        result = super().__exit__(*args)
        if self._app_error is not None:
            error, self._app_error = self._app_error, None
            raise error
        return result

    def receive(self) -> Message:
        message = super().receive()
        if message["type"] == "websocket.accept" and REFUSAL_KEY in message:
            self.refused = True
        return message

    def __enter__(self) -> Self:
        session = super().__enter__()
        if self.refused:
            message = self.receive()  # the close frame that follows the accept
            self.__exit__(None, None, None)
            self._raise_on_close(message)
        self._frames = _Frames()
        return session

    def _receive_within(self, timeout: float) -> Message:
        """The next ASGI message from the app; `TimeoutError` if none comes within `timeout` seconds."""
        return self.portal.call(self._receive_within_async, timeout)

    async def _receive_within_async(self, timeout: float) -> Message:
        try:
            with anyio.fail_after(timeout):
                message: Message = await self._send_rx.receive()  # Starlette's stream of messages from the app
                return message
        except TimeoutError:
            raise _waited(timeout) from None

    def send_message(self, type: str, data: Any = None, *, id: Any = None) -> None:
        """Send a typed message; `data=None` leaves `data` out of the envelope."""
        self.send_text(_envelope(type, data, id))

    def receive_message(self, *, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """The next frame (one put aside by `request` first), decoded; a close raises `WebSocketDisconnect`."""
        if self._frames.put_aside:
            return self._frames.put_aside.popleft()
        return self._frames.decode(self._receive_within(timeout))

    def request(self, type: str, data: Any = None, *, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """Send a typed message with a fresh id and return the frame that answers it."""
        id = next(self._frames.ids)
        self.send_message(type, data, id=id)
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._receive_within(max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise _unanswered(type, id, timeout) from None
            frame = self._frames.decode(message)
            if frame.get("id") == id:
                return frame
            self._frames.put_aside.append(frame)


class TestClient(_starlette.TestClient):
    __test__ = False  # not a pytest test class

    def websocket_connect(self, url: str, subprotocols: Any = None, **kwargs: Any) -> WebSocketTestSession:
        session = super().websocket_connect(url, subprotocols, **kwargs)
        raise_server_exceptions = getattr(self._transport, "raise_server_exceptions", True)
        return WebSocketTestSession(
            session.app, session.scope, session.portal_factory, raise_server_exceptions=raise_server_exceptions
        )


class AsyncWebSocketTestSession:
    """A WebSocket connection to an app running in the test's own event loop; use it with `async with`.

    What the app raised is raised when the session ends (or at once, for an exception before the handshake), unless
    `raise_server_exceptions` is False.
    """

    def __init__(self, app: ASGIApp, scope: Scope, *, raise_server_exceptions: bool = True) -> None:
        self.app = app
        self.scope = scope
        self.raise_server_exceptions = raise_server_exceptions
        if raise_server_exceptions:
            scope[DISCONNECT_KEY] = True
        self.accepted_subprotocol: str | None = None
        self._to_app, self._app_receives = anyio.create_memory_object_stream[Message](math.inf)
        self._app_sends, self._from_app = anyio.create_memory_object_stream[Message](math.inf)
        self._app_error: BaseException | None = None
        self._finished = anyio.Event()
        self._frames = _Frames()

    async def __aenter__(self) -> Self:
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._run_app)
        await self.send({"type": "websocket.connect"})
        try:
            message = await self.receive()
            if message["type"] == "websocket.http.response.start":
                raise await self._denial(message)
            _unless_closed(message)
            if REFUSAL_KEY in message:  # wsapi's refusal: the close frame follows the accept
                _unless_closed(await self.receive())
        except BaseException as exc:
            await self._stop(exc)
            raise
        self.accepted_subprotocol = message.get("subprotocol")
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._app_error is None:
            await self.close()
        await self._stop(exc_info[1])

    async def _stop(self, in_flight: BaseException | None) -> None:
        # The app gets a moment to see the disconnect and finish (its disconnect hooks run); then it is cancelled.
        with anyio.move_on_after(CLOSE_GRACE):
            await self._finished.wait()
        self._tasks.cancel_scope.cancel()
        await self._tasks.__aexit__(None, None, None)
        if self._app_error is not None and in_flight is None:
            raise self._app_error

    async def _run_app(self) -> None:
        try:
            await self.app(self.scope, self._app_receives.receive, self._app_sends.send)
        except Exception as exc:  # raised from the session, like Starlette's client does
            if self.raise_server_exceptions:
                self._app_error = exc
        finally:
            self._app_sends.close()
            self._finished.set()

    async def _denial(self, start: Message) -> WebSocketDenialResponse:
        body = b""
        while (message := await self.receive())["type"] == "websocket.http.response.body":
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        return WebSocketDenialResponse(status_code=start["status"], headers=start.get("headers", []), content=body)

    async def send(self, message: Message) -> None:
        await self._to_app.send(message)

    async def send_text(self, data: str) -> None:
        await self.send({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any) -> None:
        await self.send_text(json.dumps(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        await self.send({"type": "websocket.disconnect", "code": code, "reason": reason})

    async def receive(self, *, timeout: float = RECEIVE_TIMEOUT) -> Message:
        """The next ASGI message from the app; `TimeoutError` if none comes within `timeout` seconds."""
        try:
            with anyio.fail_after(timeout):
                message: Message = await self._from_app.receive()
                return message
        except TimeoutError:
            raise _waited(timeout) from None
        except anyio.EndOfStream:
            if self._app_error is not None:
                raise self._app_error from None
            raise WebSocketDisconnect(1006, "the application ended without closing the connection") from None

    async def receive_text(self, *, timeout: float = RECEIVE_TIMEOUT) -> str:
        text: str = _unless_closed(await self.receive(timeout=timeout))["text"]
        return text

    async def receive_bytes(self, *, timeout: float = RECEIVE_TIMEOUT) -> bytes:
        data: bytes = _unless_closed(await self.receive(timeout=timeout))["bytes"]
        return data

    async def receive_json(self, *, timeout: float = RECEIVE_TIMEOUT) -> Any:
        return json.loads(await self.receive_text(timeout=timeout))

    async def send_message(self, type: str, data: Any = None, *, id: Any = None) -> None:
        """Send a typed message; `data=None` leaves `data` out of the envelope."""
        await self.send_text(_envelope(type, data, id))

    async def receive_message(self, *, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """The next frame (one put aside by `request` first), decoded; a close raises `WebSocketDisconnect`."""
        if self._frames.put_aside:
            return self._frames.put_aside.popleft()
        return self._frames.decode(await self.receive(timeout=timeout))

    async def request(self, type: str, data: Any = None, *, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """Send a typed message with a fresh id and return the frame that answers it."""
        id = next(self._frames.ids)
        await self.send_message(type, data, id=id)
        with anyio.move_on_after(timeout):
            while True:
                frame = self._frames.decode(await self.receive(timeout=math.inf))
                if frame.get("id") == id:
                    return frame
                self._frames.put_aside.append(frame)
        raise _unanswered(type, id, timeout)


class AsyncTestClient(httpx.AsyncClient):
    """An httpx async client for an ASGI app run in the test's event loop, with `websocket_connect`.

    `async with AsyncTestClient(app) as client:` runs the app's lifespan around the block, as `TestClient` does.
    """

    __test__ = False

    def __init__(
        self, app: ASGIApp, base_url: str = "http://testserver", *, raise_server_exceptions: bool = True, **kwargs: Any
    ) -> None:
        self.app = app
        self.app_state: dict[str, Any] = {}
        self.raise_server_exceptions = raise_server_exceptions
        transport = httpx.ASGITransport(app=self._with_state, raise_app_exceptions=raise_server_exceptions)
        super().__init__(transport=transport, base_url=base_url, **kwargs)

    async def _with_state(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app({**scope, "state": self.app_state.copy()}, receive, send)

    def websocket_connect(
        self, url: str, subprotocols: Sequence[str] = (), *, headers: dict[str, str] | None = None
    ) -> AsyncWebSocketTestSession:
        request = self.build_request("GET", url, headers=headers)
        if subprotocols:
            request.headers["sec-websocket-protocol"] = ", ".join(subprotocols)
        scope = {
            "type": "websocket",
            "path": unquote(request.url.path),
            "raw_path": request.url.raw_path.split(b"?", 1)[0],
            "root_path": "",
            "scheme": "wss" if request.url.scheme == "https" else "ws",
            "query_string": request.url.query,
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "client": ("testclient", 50000),
            "server": (request.url.host, request.url.port or 80),
            "subprotocols": list(subprotocols),
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        return AsyncWebSocketTestSession(self.app, scope, raise_server_exceptions=self.raise_server_exceptions)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._to_app, receive = anyio.create_memory_object_stream[Message](math.inf)
        send, self._from_app = anyio.create_memory_object_stream[Message](math.inf)
        self._lifespan_error: Exception | None = None
        self._lifespan = anyio.create_task_group()
        await self._lifespan.__aenter__()
        self._lifespan.start_soon(self._run_lifespan, receive, send)
        try:
            await self._lifespan_step("startup")
        except BaseException:
            await self._end()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self._lifespan_step("shutdown")
        finally:
            await self._end(*exc_info)

    async def _end(self, *exc_info: Any) -> None:
        self._lifespan.cancel_scope.cancel()
        await self._lifespan.__aexit__(None, None, None)
        await super().__aexit__(*exc_info)

    async def _run_lifespan(self, receive: Any, send: Any) -> None:
        with send:  # closed when the app returns, so that a step waiting for an answer does not hang
            try:
                await self.app({"type": "lifespan", "state": self.app_state}, receive.receive, send.send)
            except Exception as exc:  # raised from the step that waits for the app, as Starlette's client does
                self._lifespan_error = exc

    async def _lifespan_step(self, step: str) -> None:
        await self._to_app.send({"type": f"lifespan.{step}"})
        try:
            with anyio.fail_after(RECEIVE_TIMEOUT):
                message = await self._from_app.receive()
                if message["type"] == f"lifespan.{step}.failed":
                    await self._from_app.receive()  # the app raises after reporting the failure
        except anyio.EndOfStream:
            message = {"message": "the app returned from its lifespan"}
        if self._lifespan_error is not None:
            raise self._lifespan_error
        if message.get("type") != f"lifespan.{step}.complete":
            raise RuntimeError(f"lifespan {step} failed: {message.get('message', '')}")
