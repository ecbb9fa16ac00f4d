"""One ASGI app per benchmark variant; the file name is the variant's name, `app` its ASGI app.

The generic apps (no family prefix: raw, starlette, fastapi, litestar, wsapi) serve the same two WebSocket endpoints:

- `/echo`: accepts, then answers each text message with the same text until the client leaves.
- `/items/{item_id}/ws`: checks the int path param `item_id`, the query param `token`, the header `x-client` and the
  cookie `session` with the framework's own dependency mechanism, sends one text message and closes (1000).
  The raw variant does no checks: it is the floor a framework's handshake is measured against.

A family's apps, `<family>_<name>.py`, serve their own scenarios and are measured against `<family>_raw.py`:

- `typed_echo_*`: `/echo` answers `{"type":"echo","id":n,"data":...}` with `{"type":"echo.reply","id":n,"data":...}`.
- `fanout_*`: `/sub` connections receive, for each text sent on `/pub`, one frame
  `{"type":"message","channel":"fan","epoch":...,"offset":...,"data":<the text as a JSON string>}`.
"""

from wsapi.limits import Limits, RateLimit

TOKEN = "secret-token"
SESSION = "session-cookie"
# What the load generator sends to /items/{item_id}/ws, and the one message it expects back.
ITEM_ID = 7
CLIENT = "bench-client"
ITEM_REPLY = f"item {ITEM_ID} for {CLIENT}"

# wsapi's limits stay on, so their per-message and per-handshake cost is measured, but set above what one load
# generator on loopback does: its 50 connections send far more than a person would, all from one IP.
_UNTRIGGERED = 10**9
UNTRIGGERED_LIMITS = Limits(
    messages=RateLimit(_UNTRIGGERED, _UNTRIGGERED),
    publishes=RateLimit(_UNTRIGGERED, _UNTRIGGERED),
    handshakes_per_ip=RateLimit(_UNTRIGGERED, _UNTRIGGERED),
    max_connections=_UNTRIGGERED,
    max_connections_per_ip=_UNTRIGGERED,
)
