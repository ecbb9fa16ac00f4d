"""The default exception handlers, importable to reuse them from a handler of one's own (as in FastAPI)."""

from wsapi.exceptions import (
    http_exception_handler,
    request_validation_exception_handler,
    websocket_request_validation_exception_handler,
)

__all__ = [
    "http_exception_handler",
    "request_validation_exception_handler",
    "websocket_request_validation_exception_handler",
]
