"""Starlette's WebSocket, with JSON read by a parser that bounds nesting.

`receive_json()` raises `json.JSONDecodeError` for text that is not JSON or nests deeper than `MAX_JSON_DEPTH`
(which an endpoint not catching it turns into close 1007), where Python's parser would recurse until it raised
`RecursionError` (a 1011, with a traceback in the log).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_core import from_json
from starlette import websockets as _starlette
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

MAX_JSON_DEPTH = 201  # the deepest nesting pydantic-core's parser accepts: the same for typed messages
_POSITION = re.compile(r"(.*) at line (\d+) column (\d+)$")

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
    """Starlette's WebSocket; only `receive_json` differs (see the module)."""

    async def receive_json(self, mode: str = "text") -> Any:
        if mode not in {"text", "binary"}:
            raise RuntimeError('The "mode" argument should be "text" or "binary".')
        if self.application_state is not WebSocketState.CONNECTED:
            raise WebSocketDisconnected('WebSocket is not connected. Need to call "accept" first.')
        message = await self.receive()
        self._raise_on_disconnect(message)
        return parse_json(message["text"] if mode == "text" else message["bytes"])
