"""What the AsyncAPI document says about `wsapi.channels`: the frames a route that takes the hub sends, and why the
connection may be closed.

The document cannot see whether an endpoint subscribes its connection (it might only publish), so every route with
the hub among its dependencies is described as sending channel frames.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from wsapi.channels.errors import CLOSE_REFUSED, CLOSE_SHUTDOWN, CLOSE_SLOW_CONSUMER
from wsapi.channels.frames import JoinFrame, LeaveFrame, MessageFrame, SubscribedFrame
from wsapi.channels.hub import get_channels
from wsapi.dependencies import Dependant

FRAMES: tuple[type[BaseModel], ...] = (SubscribedFrame, MessageFrame, JoinFrame, LeaveFrame)

SUMMARY = "The frames of the channels the connection is subscribed to."
DESCRIPTION = f"""\
Sent by the channels hub (`wsapi.channels`) while the route keeps the connection subscribed, in order per channel. \
To resume after a reconnection, a client keeps the `epoch` and `offset` of the last `message` or `subscribed` frame \
of each channel and hands them back as `<epoch>:<offset>` where the route takes a position.

Close codes:

- {CLOSE_REFUSED}: a subscription was refused (a malformed channel name, or the app's `authorize` hook said no), or a \
resume position in the handshake is malformed.
- {CLOSE_SLOW_CONSUMER}: the connection's send queue overflowed (it read too slowly); reconnect and resume.
- {CLOSE_SHUTDOWN}: the server is shutting down; the frames queued before were sent."""


def uses_channels(dependants: Iterable[Dependant]) -> bool:
    """Whether the hub is among the dependencies, at any depth."""
    return any(sub.call is get_channels for dependant in dependants for sub in dependant.walk())
