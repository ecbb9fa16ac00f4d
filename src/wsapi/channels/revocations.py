"""`hub.disconnect_user` across processes: an order published on a channel of its own, carried out by every hub.

The order is an ordinary channel message (numbered, kept in history, delivered to every process subscribed), so a
process whose live connection to the backend dropped for a moment reads the orders it missed when it is back. Each
hub listens from its start and closes the connections its app's registry has for that user.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from wsapi.channels.frames import Position

if TYPE_CHECKING:
    from wsapi.channels.hub import Channels
    from wsapi.connections import Connections

CHANNEL = "wsapi:disconnect-user"
QUEUE_SIZE = 1024  # orders waiting to be carried out on one process


def order(user: str | int, code: int, reason: str) -> dict[str, Any]:
    if type(user) not in (str, int):
        raise TypeError(f"a user id is a string or an integer, not {type(user).__name__}")
    return {"user": user, "code": code, "reason": reason}


class Revocations:
    """One process's listener for disconnect orders; restarted by the hub's supervisor after a failure."""

    def __init__(self, hub: Channels, connections: Connections) -> None:
        self.hub = hub
        self.connections = connections
        self.position: Position | None = None  # the last order carried out: a restart resumes after it
        self.first_attempt = asyncio.Event()

    async def start(self) -> None:
        """Listen in the background; returns once orders published from now on will be carried out, or once the
        first attempt failed (the backend is down: the app starts anyway, and the supervisor keeps trying)."""
        self.hub.supervisor.keep_running("disconnect orders", self._listen)
        await self.first_attempt.wait()

    async def _listen(self) -> None:
        try:
            async with self.hub.listen(CHANNEL, since=self.position, queue_size=QUEUE_SIZE) as frames:
                self.first_attempt.set()
                async for frame in frames:
                    if frame["type"] != "message":
                        continue
                    self.position = Position(frame["epoch"], frame["offset"])
                    data = frame["data"]
                    await self.connections.disconnect_user(data["user"], data["code"], data["reason"])
        finally:
            self.first_attempt.set()
