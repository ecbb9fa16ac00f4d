"""What every security scheme shares: a name, an OpenAPI/AsyncAPI description, and how it says no."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection

from wsapi import status
from wsapi.exceptions import HTTPException


class SecurityBase:
    """A scheme is a dependency (`Depends(scheme)`) whose `model` is its OpenAPI/AsyncAPI security scheme object."""

    scheme_name: str
    model: dict[str, Any]
    auto_error: bool

    def __init__(self, *, scheme_name: str | None, description: str | None, auto_error: bool) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error

    def _describe(self, model: dict[str, Any]) -> dict[str, Any]:
        return {**model, "description": self.description} if self.description else model

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}

    def make_not_authenticated_error(self) -> HTTPException:
        """The HTTP answer to a missing or bad credential: 401 with a `WWW-Authenticate` header, as in FastAPI.

        Override it to answer otherwise (some clients expect 403); WebSockets are refused with 1008 regardless.
        """
        return HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated", self.make_authenticate_headers())

    def refuse(self, conn: HTTPConnection, reason: str = "Not authenticated") -> Exception:
        """What to raise for a missing or bad credential: HTTP gets `make_not_authenticated_error()`, a WebSocket is
        closed with 1008 and `reason`."""
        if conn.scope["type"] == "websocket":
            return WebSocketException(status.WS_1008_POLICY_VIOLATION, reason)
        return self.make_not_authenticated_error()
