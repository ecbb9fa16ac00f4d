"""OpenID Connect: the `Authorization` header, handed over as it is; the discovery URL goes into the docs."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from wsapi.security.base import SecurityBase


class OpenIdConnect(SecurityBase):
    def __init__(
        self,
        *,
        openIdConnectUrl: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.model = self._describe({"type": "openIdConnect", "openIdConnectUrl": openIdConnectUrl})

    async def __call__(self, conn: HTTPConnection) -> str | None:
        authorization = conn.headers.get("authorization")
        if not authorization:
            if self.auto_error:
                raise self.refuse(conn)
            return None
        return authorization
