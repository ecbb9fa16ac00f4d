"""A fan-out's frame built once: under uvicorn's default WebSocket protocol, every idle subscriber's socket is
given the same prepared bytes, where each connection's ASGI send would frame the message again.

Only where nothing the server or the app sees changes: the connection's ASGI `send` is the protocol's own (no
middleware wraps it, so none is bypassed), it negotiated no extension other than permessage-deflate, it is open, and
its socket takes data now (the server has not paused writing). Any other connection, and any other server, gets the
frame through its ASGI send.

A connection that negotiated permessage-deflate (every browser offers it, uvicorn accepts it by default) is given
the prepared frame uncompressed when the payload is at most the hub's `uncompressed_max` (`UNCOMPRESSED_MAX` bytes
by default), and its ASGI send, which compresses, otherwise. RFC 7692 lets a sender leave any message uncompressed
(RSV1 unset); the peer's decompressor and the server's compressor never see it, so their shared context stays in
step. Compressing a small message costs about 4.5 us per connection (benchmarks/RESULTS.md), as much again as the
rest of a delivery; Node's `ws` and OkHttp leave messages under 1 KiB uncompressed by default too. What it would
have saved is bytes on the wire: a chat message of about 150 bytes compresses to about 12 once the context holds a
few like it.

Only small messages are prepared (`PREPARED_MAX`): there, framing is most of what a delivery costs the server. For
larger ones it is mostly a copy, and skipping it lets a burst outrun its readers: on loopback the surplus waits in
the kernel's socket memory, which measured as TCP memory pressure, dropped segments and retransmission timeouts
(benchmarks/RESULTS.md, "Prepared frames").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.types import Message

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.extensions.permessage_deflate import PerMessageDeflate
    from websockets.frames import Frame, Opcode
    from websockets.protocol import State
except ImportError:  # uvicorn is an optional extra; under another server every frame takes the ASGI send
    _PROTOCOL: type[Any] | None = None
else:
    _PROTOCOL = WebSocketsSansIOProtocol

__all__ = ["PREPARED_MAX", "UNCOMPRESSED_MAX", "Socket", "prepare", "socket_of", "writable"]

PREPARED_MAX = 4096  # bytes of payload
UNCOMPRESSED_MAX = 1024  # bytes of payload a compressed connection is given uncompressed, by default

Socket = Any  # uvicorn's WebSocketsSansIOProtocol: the connection's server side


def socket_of(send: Callable[..., Any]) -> Socket | None:
    """The server protocol behind `send` if a prepared frame may be written to it directly, else None."""
    protocol = getattr(send, "__self__", None)
    if _PROTOCOL is None or not isinstance(protocol, _PROTOCOL):
        return None
    if getattr(send, "__func__", None) is not _PROTOCOL.send:
        return None  # a subclass's own send
    if any(not isinstance(extension, PerMessageDeflate) for extension in protocol.conn.extensions):
        return None
    return protocol


def writable(socket: Socket) -> bool:
    """Whether `socket` takes a frame now, as its ASGI send would without waiting."""
    return socket.writable.is_set() and socket.conn.state is State.OPEN and not socket.disconnected


def prepare(message: Message, uncompressed_max: int) -> tuple[bytes | None, bool]:
    """The unmasked, uncompressed text frame carrying `message` (a `websocket.send` event with `text`), None if its
    payload is over `PREPARED_MAX` bytes; and whether it may go to a compressed connection too (a payload of at most
    `uncompressed_max` bytes)."""
    payload = message["text"].encode()
    if len(payload) > PREPARED_MAX:
        return None, False
    return Frame(Opcode.TEXT, payload).serialize(mask=False), len(payload) <= uncompressed_max
