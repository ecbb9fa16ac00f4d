"""Typed echo with one per-message yield dependency (a stand-in for a database session): entered and torn down
for every message. Same frames as `typed_echo_messages`; the ratio between the two is the dependency's cost.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from pydantic import BaseModel

from benchmarks.apps import UNTRIGGERED_LIMITS
from wsapi import Depends, MessageRouter, WsAPI

app = WsAPI(limits=UNTRIGGERED_LIMITS)
echo_router = MessageRouter()


class Echo(BaseModel):
    text: str


async def session() -> AsyncIterator[str]:
    yield "session"


@echo_router.on("echo")
async def echo(message: Echo, db: Annotated[str, Depends(session)]) -> Echo:
    return message


app.add_api_websocket_route("/echo", echo_router)
