"""Why a call (or a subscribe) did not get its reply."""

from __future__ import annotations

from typing import Any


class CallError(Exception):
    """A request that got an `error` frame (`code` is the server's: `validation_error`, `channel_refused`, the
    app's own...) or none at all: `timeout`, `offline` (disconnected, and the client fails fast), `disconnected`
    (the connection closed before the reply came), `closed` (the client is closed, or the server refused it)."""

    def __init__(self, code: str, message: str = "", errors: list[Any] | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code
        self.errors = errors
