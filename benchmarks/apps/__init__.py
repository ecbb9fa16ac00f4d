"""One ASGI app per benchmark variant; the file name is the variant's name, `app` its ASGI app.

Every app serves the same two WebSocket endpoints:

- `/echo`: accepts, then answers each text message with the same text until the client leaves.
- `/items/{item_id}/ws`: checks the int path param `item_id`, the query param `token`, the header `x-client` and the
  cookie `session` with the framework's own dependency mechanism, sends one text message and closes (1000).
  The raw variant does no checks: it is the floor a framework's handshake is measured against.
"""

TOKEN = "secret-token"
SESSION = "session-cookie"
# What the load generator sends to /items/{item_id}/ws, and the one message it expects back.
ITEM_ID = 7
CLIENT = "bench-client"
ITEM_REPLY = f"item {ITEM_ID} for {CLIENT}"
