"""Class-based WebSocket endpoints: Starlette's, with wsapi's close codes for bad frames and errors."""

from __future__ import annotations

import json
from typing import Any

from starlette import endpoints as _starlette
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from wsapi import status
from wsapi.connections import CONNECTION_KEY
from wsapi.exceptions import refuse
from wsapi.websockets import parse_json

__all__ = ["HTTPEndpoint", "WebSocketEndpoint"]

HTTPEndpoint = _starlette.HTTPEndpoint
ENCODINGS = (None, "text", "bytes", "json")


class UnsupportedFrame(Exception):
    """A frame the endpoint's `encoding` cannot take; the connection is closed with 1003."""


class WebSocketEndpoint(_starlette.WebSocketEndpoint):
    """Override `on_connect`, `on_receive` and `on_disconnect`; set `encoding` to "text", "bytes" or "json".

    A frame of the wrong kind, or JSON that does not parse, closes the connection with 1003 (unsupported data);
    an exception from a handler closes it with 1011 and propagates, as from any endpoint (see `wsapi.exceptions`).
    `on_disconnect` always runs, with the code.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.encoding not in ENCODINGS:
            raise TypeError(f"{cls.__name__}.encoding is one of {ENCODINGS}, not {cls.encoding!r}")

    async def dispatch(self) -> None:
        websocket = WebSocket(self.scope, receive=self.receive, send=self.send)
        connection = self.scope.get(CONNECTION_KEY)
        if connection is not None:  # so that the app can tell how far this connection got when an error comes out
            connection.websocket = websocket
        close_code: int = status.WS_1000_NORMAL_CLOSURE
        try:
            await self.on_connect(websocket)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    close_code = int(message.get("code") or status.WS_1000_NORMAL_CLOSURE)
                    break
                await self.on_receive(websocket, await self.decode(websocket, message))
        except UnsupportedFrame as exc:
            close_code = status.WS_1003_UNSUPPORTED_DATA
            await refuse(websocket, close_code, str(exc))
        except WebSocketDisconnect as exc:
            close_code = exc.code
        except Exception:
            close_code = status.WS_1011_INTERNAL_ERROR
            raise
        finally:
            await self.on_disconnect(websocket, close_code)

    async def decode(self, websocket: WebSocket, message: Message) -> Any:
        text, data = message.get("text"), message.get("bytes")
        if self.encoding == "text":
            if text is None:
                raise UnsupportedFrame("Expected a text frame, got a binary frame")
            return text
        if self.encoding == "bytes":
            if data is None:
                raise UnsupportedFrame("Expected a binary frame, got a text frame")
            return data
        if self.encoding == "json":
            try:
                return parse_json(text if text is not None else data or b"")
            except json.JSONDecodeError as exc:  # nesting too deep included
                raise UnsupportedFrame("Malformed JSON") from exc
        return text if text is not None else data
