"""HTTP status codes and RFC 6455 WebSocket close codes, as named constants (`status.WS_1008_POLICY_VIOLATION`)."""

from typing import Any

from starlette import status as _starlette_status
from starlette.status import *  # noqa: F403


def __getattr__(name: str) -> Any:
    # Older names (HTTP_422_UNPROCESSABLE_ENTITY, ...) that Starlette still serves with a deprecation warning.
    return getattr(_starlette_status, name)
