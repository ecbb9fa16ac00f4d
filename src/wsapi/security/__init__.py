"""Security schemes that work as dependencies on HTTP and WebSocket routes alike.

On HTTP a missing or bad credential answers 401 with a `WWW-Authenticate` header (as FastAPI does; override
`make_not_authenticated_error` to answer otherwise); on a WebSocket the handshake is refused with 1008 (policy
violation) and the reason "Not authenticated" or "Invalid authentication credentials".
"""

from wsapi.security.api_key import APIKeyCookie, APIKeyHeader, APIKeyQuery
from wsapi.security.base import SecurityBase
from wsapi.security.http import (
    HTTPAuthorizationCredentials,
    HTTPBase,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
)
from wsapi.security.oauth2 import (
    OAuth2,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OAuth2PasswordRequestForm,
    OAuth2PasswordRequestFormStrict,
)
from wsapi.security.open_id_connect_url import OpenIdConnect
from wsapi.security.scopes import SecurityScopes

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBase",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OAuth2PasswordRequestForm",
    "OAuth2PasswordRequestFormStrict",
    "OpenIdConnect",
    "SecurityBase",
    "SecurityScopes",
]
