"""The test client: Starlette's, with a WebSocket refusal raised from `websocket_connect` as `WebSocketDisconnect`.

wsapi refuses a handshake by accepting and closing at once (so real clients see the code); in tests that refusal
reads as what it is, a connection that never opened: `with client.websocket_connect(...)` raises.
"""

from __future__ import annotations

from typing import Any, Self

from starlette import testclient as _starlette
from starlette.types import Message

from wsapi.exceptions import REFUSAL_KEY

WebSocketDenialResponse = _starlette.WebSocketDenialResponse

__all__ = ["TestClient", "WebSocketDenialResponse", "WebSocketTestSession"]


class WebSocketTestSession(_starlette.WebSocketTestSession):
    refused = False

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
        return session


class TestClient(_starlette.TestClient):
    __test__ = False  # not a pytest test class

    def websocket_connect(self, url: str, subprotocols: Any = None, **kwargs: Any) -> WebSocketTestSession:
        session = super().websocket_connect(url, subprotocols, **kwargs)
        return WebSocketTestSession(session.app, session.scope, session.portal_factory)
