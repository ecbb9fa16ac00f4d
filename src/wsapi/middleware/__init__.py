"""Middleware: Starlette's `Middleware` and its usual classes, under the names FastAPI gives them.

`wsapi.middleware.cors`, `.gzip`, `.trustedhost` and `.httpsredirect` re-export Starlette's; a class in
`middleware=[Middleware(...)]` wraps WebSocket connections as well as HTTP requests.
"""

from starlette.middleware import Middleware

__all__ = ["Middleware"]
