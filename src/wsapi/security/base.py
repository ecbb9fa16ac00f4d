"""What every security scheme shares: a name, an OpenAPI/AsyncAPI description, and how it says no."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection

from wsapi import status
from wsapi.exceptions import HTTPException


class SecurityBase:
    scheme_name: str
    model: dict[str, Any]
    auto_error: bool

    def __init__(self, *, scheme_name: str | None, description: str | None, auto_error: bool) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error

    def _describe(self, model: dict[str, Any]) -> dict[str, Any]:
        return {**model, "description": self.description} if self.description else model


def not_authenticated(
    conn: HTTPConnection,
    detail: str = "Not authenticated",
    *,
    status_code: int = status.HTTP_403_FORBIDDEN,
    headers: dict[str, str] | None = None,
) -> Exception:
    """The refusal for a missing or bad credential: HTTP gets `status_code`, a WebSocket is closed with 1008."""
    if conn.scope["type"] == "websocket":
        return WebSocketException(status.WS_1008_POLICY_VIOLATION, detail)
    return HTTPException(status_code, detail, headers)
