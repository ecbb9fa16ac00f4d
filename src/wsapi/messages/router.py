"""`MessageRouter`: the messages one WebSocket route accepts and sends, declared once, with their handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import TypeAdapter
from pydantic_core import to_json
from starlette.websockets import WebSocket

from wsapi.limits import FROM_APP, RateLimit
from wsapi.messages.envelope import ACK, ERROR, REPLY_SUFFIX, encode, type_prefix

Handler = TypeVar("Handler", bound=Callable[..., Any])

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
DEFAULT_MAX_BAD_MESSAGES = 10


@dataclass(frozen=True, eq=False)
class Outbound:
    """A declared server-to-client message: its validator (and schema), and its envelope's start encoded once."""

    type: str
    adapter: TypeAdapter[Any]
    prefix: bytes
    description: str | None


class MessageRouter:
    """Handlers per message `type`, connect/disconnect hooks, and the server messages a route sends.

    Mount it like an endpoint: `app.add_api_websocket_route("/chat", router)`. Each handler takes the message's
    `data` (its one plain parameter, validated against its annotation) and any dependencies, solved per message;
    dependencies the connect hook or the route already solved are reused from the connection. The return value, if
    any, is sent back as the reply.

    `max_message_size` (bytes) closes the connection with 1009 when a frame is larger; `max_bad_messages` in a row
    (bad JSON, bad envelope, unknown type, invalid data, binary frames) close it with 1008. `rate_limit` bounds the
    messages of one connection ("app": the app's `Limits.messages`; `None`: no limit), and `on(type, rate_limit=)`
    those of one type: a message over a limit is answered with a `rate_limited` error frame and not handled, and a
    client that sends `burst` more messages regardless is closed with 1008.
    """

    def __init__(
        self,
        *,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_bad_messages: int = DEFAULT_MAX_BAD_MESSAGES,
        rate_limit: RateLimit | FROM_APP | None = "app",
    ) -> None:
        if max_message_size <= 0 or max_bad_messages <= 0:
            raise ValueError(
                f"max_message_size and max_bad_messages must be positive, not {max_message_size}, {max_bad_messages}"
            )
        self.max_message_size = max_message_size
        self.max_bad_messages = max_bad_messages
        self.rate_limit = rate_limit
        self.type_limits: dict[str, RateLimit] = {}
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.outbound: dict[str, Outbound] = {}
        self.connect_hook: Callable[..., Any] | None = None
        self.disconnect_hook: Callable[..., Any] | None = None

    def on(self, type: str, *, rate_limit: RateLimit | None = None) -> Callable[[Handler], Handler]:
        """Register the handler of client messages of this `type`, with a rate limit of its own per connection."""

        def decorator(handler: Handler) -> Handler:
            if type in self.handlers:
                raise ValueError(f"message type {type!r} already has a handler")
            self.handlers[type] = handler
            if rate_limit is not None:
                self.type_limits[type] = rate_limit
            return handler

        return decorator

    def on_connect(self, hook: Handler) -> Handler:
        """Register the hook that runs before the handshake is accepted; its dependencies live for the connection.

        It may accept the connection itself (to pick a subprotocol) or refuse it (`WebSocketException`); otherwise
        the connection is accepted when it returns.
        """
        self.connect_hook = hook
        return hook

    def on_disconnect(self, hook: Handler) -> Handler:
        """Register the hook that runs when the connection ends, for any reason, with the connection's dependencies."""
        self.disconnect_hook = hook
        return hook

    def sends(self, type: str, schema: Any, *, description: str | None = None) -> None:
        """Declare a server-to-client message: documented, and validated by `send` when the app runs in debug mode."""
        if type in (ACK, ERROR) or type.endswith(REPLY_SUFFIX) or type in self.outbound:
            raise ValueError(f"server message type {type!r} is reserved or already declared")
        self.outbound[type] = Outbound(type, TypeAdapter(schema), type_prefix(type), description)

    async def send(self, websocket: WebSocket, type: str, data: Any) -> None:
        """Send a declared server message to one connection (no `id`: it answers no request)."""
        try:
            message = self.outbound[type]
        except KeyError:
            raise LookupError(f"server message type {type!r} is not declared: call sends() first") from None
        if getattr(websocket.scope.get("app"), "debug", False):
            message.adapter.validate_python(data)  # a check only: both modes encode the same way
        await websocket.send_text(encode(message.prefix, None, to_json(data)))
