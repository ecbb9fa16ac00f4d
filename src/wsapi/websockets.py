"""Starlette's WebSocket, with JSON read by a parser that bounds nesting, and lighter `iter_*()` loops.

`receive_json()` (and `iter_json()`) raises `json.JSONDecodeError` for text that is not JSON or nests deeper than
`MAX_JSON_DEPTH` (which an endpoint not catching it turns into close 1007), where Python's parser would recurse
until it raised `RecursionError` (a 1011, with a traceback in the log).

An open connection spends its life waiting in `async for message in websocket.iter_text():`, so what that loop
holds is held once per connection: here an iterator whose step awaits `receive()` itself, where Starlette's async
generator waits inside `receive_text()` (a coroutine frame more, and a generator registered with the event loop).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic_core import from_json
from starlette import websockets as _starlette
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

MAX_JSON_DEPTH = 201  # the deepest nesting pydantic-core's parser accepts: the same for typed messages
_POSITION = re.compile(r"(.*) at line (\d+) column (\d+)$")
_NOT_CONNECTED = 'WebSocket is not connected. Need to call "accept" first.'

T = TypeVar("T")

__all__ = ["MAX_JSON_DEPTH", "WebSocket", "WebSocketDisconnect", "WebSocketState", "parse_json"]


def parse_json(text: str | bytes) -> Any:
    """`text` parsed as JSON; `json.JSONDecodeError` if it is not JSON or nests deeper than `MAX_JSON_DEPTH`."""
    try:
        return from_json(text)
    except ValueError as exc:
        doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
        message, line, column = str(exc), 1, 1
        if match := _POSITION.match(message):
            message, line, column = match[1], int(match[2]), int(match[3])
        lines = doc.split("\n", line - 1)
        position = sum(len(part) + 1 for part in lines[: line - 1]) + max(column - 1, 0)
        raise json.JSONDecodeError(message, doc, min(position, len(doc))) from None


class WebSocket(_starlette.WebSocket):
    """Starlette's WebSocket; `receive_json` and the `iter_*` loops differ (see the module)."""

    async def receive_json(self, mode: str = "text") -> Any:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        if self.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected(_NOT_CONNECTED)
        message = await self.receive()
        self._raise_on_disconnect(message)
        return parse_json(message["text"] if mode == "text" else message["bytes"])

    def iter_text(self) -> Incoming[str]:
        """The text messages until the client leaves: `async for text in websocket.iter_text():`."""
        return Incoming(self, _text)

    def iter_bytes(self) -> Incoming[bytes]:
        """The binary messages until the client leaves."""
        return Incoming(self, _bytes)

    def iter_json(self) -> Incoming[Any]:
        """The text messages, parsed as JSON as by `receive_json()`, until the client leaves."""
        return Incoming(self, _json)


class Incoming(Generic[T]):
    """The messages a `WebSocket.iter_*()` loop yields, read by `read`, until the client leaves."""

    __slots__ = ("_read", "_websocket")

    def __init__(self, websocket: WebSocket, read: Callable[[Message], T]) -> None:
        self._websocket = websocket
        self._read = read

    def __aiter__(self) -> Incoming[T]:
        return self

    async def __anext__(self) -> T:
        websocket = self._websocket
        if websocket.client_state is WebSocketState.DISCONNECTED:
            raise StopAsyncIteration
        if websocket.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected(_NOT_CONNECTED)
        try:
            message = await websocket.receive()
        except WebSocketDisconnect:
            raise StopAsyncIteration from None
        if message["type"] == "websocket.disconnect":
            raise StopAsyncIteration
        return self._read(message)


def _text(message: Message) -> str:
    text: str = message["text"]
    return text


def _bytes(message: Message) -> bytes:
    data: bytes = message["bytes"]
    return data


def _json(message: Message) -> Any:
    return parse_json(message["text"])
