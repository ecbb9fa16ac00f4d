"""Errors of the channels layer, and the close codes it sends.

Close codes (RFC 6455 section 7.4.1 and the IANA registry):

- 1008 policy violation: a subscription was refused, because the channel name is malformed or the app's `authorize`
  hook said no (`ChannelRefused`). A malformed resume position in a handshake parameter typed `Position` is refused
  with 1008 by the handshake validation, naming the parameter.
- 1013 try again later: the connection's send queue overflowed under the "close" policy (a slow consumer), or a
  subscription could not be made because the backend (Redis) is unreachable (reason `channels unavailable: ...`).
  The client should reconnect after a pause with its last position and resume.
- 1012 service restart: the server is shutting down (SIGTERM, or the hub stopped); the frames queued before were
  sent. The client should reconnect (to another process or the same one once it is back) and resume.
- 1006 (never sent: reported to the handler, and seen by the client as the connection dropping without a close
  frame): a frame was not sent within the hub's `send_timeout`, so the connection was aborted at the transport.
"""

from __future__ import annotations

from starlette.exceptions import WebSocketException

from wsapi import status

CLOSE_REFUSED = status.WS_1008_POLICY_VIOLATION
CLOSE_SLOW_CONSUMER = status.WS_1013_TRY_AGAIN_LATER
CLOSE_SHUTDOWN = status.WS_1012_SERVICE_RESTART
CLOSE_UNAVAILABLE = status.WS_1013_TRY_AGAIN_LATER
CLOSE_SEND_TIMEOUT = 1006  # abnormal closure: what both ends see when the connection is aborted

__all__ = [
    "CLOSE_REFUSED",
    "CLOSE_SEND_TIMEOUT",
    "CLOSE_SHUTDOWN",
    "CLOSE_SLOW_CONSUMER",
    "CLOSE_UNAVAILABLE",
    "ChannelRefused",
    "ChannelsUnavailable",
    "InvalidChannel",
    "InvalidPosition",
    "SlowConsumer",
]


class ChannelsUnavailable(RuntimeError):
    """The backend (Redis) cannot be reached, so the operation did not happen: nothing was published or read."""


class InvalidChannel(ValueError):
    """A channel name that is not 1 to 200 characters from letters, digits and `_ - . : @ /`."""

    def __init__(self, name: object) -> None:
        super().__init__(f"invalid channel name {name!r}")


class InvalidPosition(ValueError):
    """A resume position that is not `<epoch>:<offset>` (hex epoch, decimal offset)."""

    def __init__(self, text: object) -> None:
        super().__init__(f"invalid position {text!r}: expected <epoch>:<offset>")


class ChannelRefused(WebSocketException):
    """A WebSocket's subscription was refused; unhandled, it closes the connection with its code (1008 refused,
    1013 backend unavailable) and the reason."""

    def __init__(self, reason: str, code: int = CLOSE_REFUSED) -> None:
        super().__init__(code, reason)


class SlowConsumer(Exception):
    """Raised from a `Listener` whose queue overflowed under the "close" policy: messages were not delivered."""
