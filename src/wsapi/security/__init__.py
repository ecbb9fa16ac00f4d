"""Security schemes that work as dependencies on HTTP and WebSocket routes alike.

On HTTP a missing or bad credential answers 401/403; on a WebSocket the handshake is refused with
1008 (policy violation) and the reason "Not authenticated" or "Invalid authentication credentials".
"""

from wsapi.security.api_key import APIKeyCookie, APIKeyHeader, APIKeyQuery
from wsapi.security.base import SecurityBase
from wsapi.security.http import HTTPAuthorizationCredentials, HTTPBearer
from wsapi.security.oauth2 import OAuth2PasswordBearer
from wsapi.security.scopes import SecurityScopes

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBearer",
    "OAuth2PasswordBearer",
    "SecurityBase",
    "SecurityScopes",
]
