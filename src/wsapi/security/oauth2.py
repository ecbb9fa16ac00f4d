"""OAuth2: bearer tokens (password and authorization-code flows, or any flows), the password flow's login form.

Scopes are checked with `Security` and `SecurityScopes`.
"""

from __future__ import annotations

from typing import Annotated, Any

from starlette.requests import HTTPConnection

from wsapi.params import Form
from wsapi.security.base import SecurityBase
from wsapi.security.http import split_authorization


class OAuth2PasswordRequestForm:
    """The login form of the password flow (RFC 6749, 4.3.2), as a dependency: `form: OAuth2PasswordRequestForm =
    Depends()`. `scopes` is the space-separated `scope` field, split."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        self.grant_type = grant_type
        self.username = username
        self.password = password
        self.scopes = scope.split()
        self.client_id = client_id
        self.client_secret = client_secret


class OAuth2PasswordRequestFormStrict(OAuth2PasswordRequestForm):
    """The same form with `grant_type=password` required, as the RFC says."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str, Form(pattern="^password$")],
        username: Annotated[str, Form()],
        password: Annotated[str, Form(json_schema_extra={"format": "password"})],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[str | None, Form(json_schema_extra={"format": "password"})] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


class OAuth2(SecurityBase):
    """A bearer token from any OAuth2 flows (`flows` as in OpenAPI's OAuth Flows object)."""

    def __init__(
        self,
        *,
        flows: dict[str, dict[str, Any]] | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.model = self._describe({"type": "oauth2", "flows": flows or {}})

    async def __call__(self, conn: HTTPConnection) -> str | None:
        authorization = conn.headers.get("authorization")
        if not authorization:
            if self.auto_error:
                raise self.refuse(conn)
            return None
        return authorization

    def _bearer_token(self, conn: HTTPConnection) -> str | None:
        scheme, token = split_authorization(conn.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            if self.auto_error:
                raise self.refuse(conn)
            return None
        return token


def _flow(scopes: dict[str, str] | None, refresh_url: str | None, **urls: str) -> dict[str, Any]:
    flow: dict[str, Any] = {**urls, "scopes": scopes or {}}
    if refresh_url:
        flow["refreshUrl"] = refresh_url
    return flow


class OAuth2PasswordBearer(OAuth2):
    def __init__(
        self,
        tokenUrl: str,
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
        refreshUrl: str | None = None,
    ) -> None:
        flows = {"password": _flow(scopes, refreshUrl, tokenUrl=tokenUrl)}
        super().__init__(flows=flows, scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.token_url = tokenUrl

    async def __call__(self, conn: HTTPConnection) -> str | None:
        return self._bearer_token(conn)


class OAuth2AuthorizationCodeBearer(OAuth2):
    def __init__(
        self,
        authorizationUrl: str,
        tokenUrl: str,
        refreshUrl: str | None = None,
        scheme_name: str | None = None,
        scopes: dict[str, str] | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        flow = _flow(scopes, refreshUrl, authorizationUrl=authorizationUrl, tokenUrl=tokenUrl)
        super().__init__(
            flows={"authorizationCode": flow}, scheme_name=scheme_name, description=description, auto_error=auto_error
        )

    async def __call__(self, conn: HTTPConnection) -> str | None:
        return self._bearer_token(conn)
