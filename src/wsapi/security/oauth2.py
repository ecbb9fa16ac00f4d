"""OAuth2 bearer tokens obtained through the password flow; scopes are checked with `Security` and `SecurityScopes`."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from wsapi import status
from wsapi.security.base import SecurityBase, not_authenticated
from wsapi.security.http import split_authorization


class OAuth2PasswordBearer(SecurityBase):
    def __init__(
        self,
        tokenUrl: str,
        *,
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.token_url = tokenUrl
        flows = {"password": {"tokenUrl": tokenUrl, "scopes": scopes or {}}}
        self.model = self._describe({"type": "oauth2", "flows": flows})

    async def __call__(self, conn: HTTPConnection) -> str | None:
        scheme, token = split_authorization(conn.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            if self.auto_error:
                raise not_authenticated(
                    conn, status_code=status.HTTP_401_UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
                )
            return None
        return token
