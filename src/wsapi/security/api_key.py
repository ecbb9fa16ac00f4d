"""API keys in the query string, a header or a cookie; for HTTP and WebSocket routes alike."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from wsapi.redaction import redact_query_param
from wsapi.security.base import SecurityBase


class APIKeyBase(SecurityBase):
    location: str

    def __init__(
        self, *, name: str, scheme_name: str | None = None, description: str | None = None, auto_error: bool = True
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.name = name
        self.model = self._describe({"type": "apiKey", "in": self.location, "name": name})
        if self.location == "query":
            redact_query_param(name)

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "APIKey"}

    def _check(self, conn: HTTPConnection, key: str | None) -> str | None:
        if not key:
            if self.auto_error:
                raise self.refuse(conn)
            return None
        return key


class APIKeyQuery(APIKeyBase):
    location = "query"

    async def __call__(self, conn: HTTPConnection) -> str | None:
        return self._check(conn, conn.query_params.get(self.name))


class APIKeyHeader(APIKeyBase):
    location = "header"

    async def __call__(self, conn: HTTPConnection) -> str | None:
        return self._check(conn, conn.headers.get(self.name))


class APIKeyCookie(APIKeyBase):
    location = "cookie"

    async def __call__(self, conn: HTTPConnection) -> str | None:
        return self._check(conn, conn.cookies.get(self.name))
