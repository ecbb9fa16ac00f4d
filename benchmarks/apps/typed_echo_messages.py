"""Typed echo with wsapi's messages: parse, route, validate, reply.

The client sends `{"type": "echo", "id": <n>, "data": {"text": <str>}}` on `/echo` and gets
`{"type": "echo.reply", "id": <n>, "data": {"text": <str>}}` back. Compare with `typed_echo_raw` (the same frames by
hand) and `typed_echo_dependency` (the same with one per-message dependency).
"""

from pydantic import BaseModel

from benchmarks.apps import UNTRIGGERED_LIMITS
from wsapi import MessageRouter, WsAPI

app = WsAPI(limits=UNTRIGGERED_LIMITS)
echo_router = MessageRouter()


class Echo(BaseModel):
    text: str


@echo_router.on("echo")
async def echo(message: Echo) -> Echo:
    return message


app.add_api_websocket_route("/echo", echo_router)
