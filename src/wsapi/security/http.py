"""HTTP `Authorization` header schemes: Basic, Bearer, Digest, and any other scheme by name (`HTTPBase`)."""

from __future__ import annotations

import binascii
from base64 import b64decode

from pydantic import BaseModel
from starlette.requests import HTTPConnection

from wsapi.security.base import SecurityBase


class HTTPAuthorizationCredentials(BaseModel):
    scheme: str
    credentials: str


class HTTPBasicCredentials(BaseModel):
    username: str
    password: str


def split_authorization(value: str | None) -> tuple[str, str]:
    scheme, _, credentials = (value or "").partition(" ")
    return scheme, credentials.strip()


def get_authorization_scheme_param(value: str | None) -> tuple[str, str]:
    """FastAPI's name for `split_authorization`: `("Bearer", "token")` from `"Bearer token"`."""
    return split_authorization(value)


class HTTPBase(SecurityBase):
    """The `Authorization` header's scheme and credentials, for a scheme named `scheme` (case-insensitive)."""

    def __init__(
        self,
        *,
        scheme: str,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
        bearer_format: str | None = None,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.scheme = scheme
        model = {"type": "http", "scheme": scheme}
        if bearer_format:
            model["bearerFormat"] = bearer_format
        self.model = self._describe(model)

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.scheme.title()}

    def _credentials(self, conn: HTTPConnection, *, check_scheme: bool) -> HTTPAuthorizationCredentials | None:
        authorization = conn.headers.get("authorization")
        scheme, credentials = split_authorization(authorization)
        if not (authorization and scheme and credentials):
            if self.auto_error:
                raise self.refuse(conn)
            return None
        if check_scheme and scheme.lower() != self.scheme.lower():
            if self.auto_error:
                raise self.refuse(conn, "Invalid authentication credentials")
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)

    async def __call__(self, conn: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._credentials(conn, check_scheme=False)


class HTTPBearer(HTTPBase):
    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            scheme="bearer",
            bearer_format=bearer_format,
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )

    async def __call__(self, conn: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._credentials(conn, check_scheme=True)


class HTTPDigest(HTTPBase):
    """The `Digest` scheme's header, handed over unchecked: verifying the digest is the application's job."""

    def __init__(
        self, *, scheme_name: str | None = None, description: str | None = None, auto_error: bool = True
    ) -> None:
        super().__init__(scheme="digest", scheme_name=scheme_name, description=description, auto_error=auto_error)

    async def __call__(self, conn: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return self._credentials(conn, check_scheme=True)


class HTTPBasic(HTTPBase):
    """User name and password from a `Basic` header (RFC 7617); comparing them is the application's job."""

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        realm: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme="basic", scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.realm = realm

    def make_authenticate_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": f'Basic realm="{self.realm}"' if self.realm else "Basic"}

    async def __call__(self, conn: HTTPConnection) -> HTTPBasicCredentials | None:  # type: ignore[override]
        credentials = self._credentials(conn, check_scheme=True)
        if credentials is None:
            return None
        try:
            decoded = b64decode(credentials.credentials, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise self.refuse(conn, "Invalid authentication credentials") from None
        username, separator, password = decoded.partition(":")
        if not separator:
            raise self.refuse(conn, "Invalid authentication credentials")
        return HTTPBasicCredentials(username=username, password=password)
