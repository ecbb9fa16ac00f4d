"""HTTP `Authorization` header schemes (bearer tokens)."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.requests import HTTPConnection

from wsapi.security.base import SecurityBase, not_authenticated


class HTTPAuthorizationCredentials(BaseModel):
    scheme: str
    credentials: str


def split_authorization(value: str | None) -> tuple[str, str]:
    scheme, _, credentials = (value or "").partition(" ")
    return scheme, credentials.strip()


class HTTPBearer(SecurityBase):
    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        model = {"type": "http", "scheme": "bearer"}
        if bearer_format:
            model["bearerFormat"] = bearer_format
        self.model = self._describe(model)

    async def __call__(self, conn: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        authorization = conn.headers.get("authorization")
        scheme, credentials = split_authorization(authorization)
        if not authorization:
            if self.auto_error:
                raise not_authenticated(conn)
            return None
        if scheme.lower() != "bearer" or not credentials:
            if self.auto_error:
                raise not_authenticated(conn, "Invalid authentication credentials")
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)
