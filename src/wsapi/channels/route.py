"""The standard channels route: a typed protocol (a `MessageRouter`) over which any client subscribes to channels.

    app.add_api_websocket_route("/channels", ChannelsRouter(publish=True), dependencies=[Depends(user)])

Client to server, in the envelope of typed messages (`{"type", "id", "data"}`):

    subscribe    {"channel": "chat", "since": "9f2c41d07ab3e855:41"}   -> subscribe.reply {"channel", "members"}
                 {"channel": "chat", "history": 20}                    (no position: start 20 messages back)
    unsubscribe  {"channel": "chat"}                                   -> ack
    presence     {"channel": "chat"}                                   -> presence.reply {"channel", "members"}
    publish      {"channel": "chat", "data": ...}                      -> publish.reply {"channel", "epoch", "offset"}
                 (only with `ChannelsRouter(publish=True)`)

Server to client: the channel frames (`subscribed`, `message`, `join`, `leave`, see `frames.py`), and `error` frames
whose `code` is `channel_refused` (the hub's `authorize` hook said no) or `unavailable` (the backend cannot be
reached), besides the codes every typed route has. A refusal leaves the connection and its other channels alone.

It is a `MessageRouter`, so the app can add its own message types to the same connection (`@router.on("say")`),
and the AsyncAPI document describes it like any typed route. The handshake's checks (security dependencies) go in
the route's `dependencies=[...]`; the connection is accepted once they pass.
"""

# No `from __future__ import annotations`: the handlers below are closures whose annotations name local values.

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocket

from wsapi.channels.errors import CLOSE_UNAVAILABLE, ChannelRefused, ChannelsUnavailable
from wsapi.channels.frames import ChannelName, Epoch, Position
from wsapi.channels.hub import ChannelsDep
from wsapi.channels.presence import Member
from wsapi.channels.subscriber import Subscription
from wsapi.limits import RateLimit
from wsapi.messages import MessageError, MessageRouter
from wsapi.params import Depends

CHANNEL_REFUSED = "channel_refused"
UNAVAILABLE = "unavailable"
MAX_HISTORY = 1000


async def connection_subscription(websocket: WebSocket, hub: ChannelsDep) -> AsyncIterator[Subscription]:
    """The connection's subscription, accepted once the handshake's dependencies have passed; it lasts as long as
    the connection."""
    await websocket.accept()
    async with hub.subscribe(websocket) as subscription:
        yield subscription


ChannelSubscription = Annotated[Subscription, Depends(connection_subscription)]
"""The connection's `Subscription` on a `ChannelsRouter` route, for the app's own handlers there."""


def _no_presence() -> None:
    return None


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelName
    since: Position | None = Field(
        None, description="The last position the client has (`<epoch>:<offset>`): resume right after it."
    )
    history: int = Field(
        0, ge=0, le=MAX_HISTORY, description="Without `since`: start this many messages back (as far as history goes)."
    )


class ChannelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelName


class Publish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelName
    data: Any = Field(description="Any JSON; subscribers get it as the `data` of a `message` frame.")


class Members(BaseModel):
    channel: ChannelName
    members: list[Member] = Field(description="The channel's members on every process, this connection included.")


class Published(BaseModel):
    channel: ChannelName
    epoch: Epoch
    offset: int = Field(ge=1, description="The new message's offset.")


def _unavailable(exc: ChannelsUnavailable) -> MessageError:
    return MessageError(UNAVAILABLE, f"channels are unavailable, try again: {exc}")


class ChannelsRouter(MessageRouter):
    """The standard channels protocol on one route: subscribe (with `since` or `history`), unsubscribe, presence,
    and with `publish=True` publish. The hub's `authorize` hook decides each subscribe and publish.

    `presence` is a dependency (solved on the handshake, like any) whose result is the connection's presence info
    in every channel it subscribes to, e.g. `{"name": user.name}`; without it, or when it returns None, the
    connection is not listed. `rate_limits` sets per-type limits on the protocol's own messages (e.g.
    `{"subscribe": RateLimit(1, burst=20)}`), as `on(type, rate_limit=)` does for the app's. Other keyword arguments
    are `MessageRouter`'s.
    """

    def __init__(
        self,
        *,
        publish: bool = False,
        presence: Callable[..., Any] | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        limits = dict(rate_limits or {})
        own = {"subscribe", "unsubscribe", "presence"} | ({"publish"} if publish else set())
        if unknown := set(limits) - own:
            raise ValueError(f"rate_limits for {sorted(unknown)}: this router's own types are {sorted(own)}")
        Info = Annotated[Any, Depends(presence or _no_presence)]

        async def connect(info: Info, subscription: ChannelSubscription) -> None:
            """The standard channels protocol: subscribe, unsubscribe, presence (and publish, if allowed)."""

        async def subscribe(
            request: Subscribe, subscription: ChannelSubscription, hub: ChannelsDep, info: Info
        ) -> Members:
            """Subscribe to a channel: a `subscribed` frame, then its messages after `since` (or from now on)."""
            since = request.since
            try:
                if since is None and request.history:
                    now = await hub.position(request.channel)
                    back = min(request.history, hub.backend.history_size)  # further back would not be recoverable
                    since = Position(now.epoch, max(0, now.offset - back))
                await subscription.subscribe(request.channel, since=since, presence=info)
                members = await hub.presence(request.channel)
            except ChannelRefused as exc:
                raise MessageError(
                    UNAVAILABLE if exc.code == CLOSE_UNAVAILABLE else CHANNEL_REFUSED, exc.reason
                ) from None
            except ChannelsUnavailable as exc:
                raise _unavailable(exc) from None
            return Members(channel=request.channel, members=members)

        async def unsubscribe(request: ChannelRequest, subscription: ChannelSubscription) -> None:
            """Leave a channel (a channel the connection is not in is left already)."""
            try:
                await subscription.unsubscribe(request.channel)
            except ChannelsUnavailable as exc:
                raise _unavailable(exc) from None

        async def members(request: ChannelRequest, websocket: WebSocket, hub: ChannelsDep) -> Members:
            """The members of a channel the connection may subscribe to."""
            if not await hub.allowed(websocket, request.channel, "subscribe"):
                raise MessageError(CHANNEL_REFUSED, f"channel refused: {request.channel!r}")
            try:
                return Members(channel=request.channel, members=await hub.presence(request.channel))
            except ChannelsUnavailable as exc:
                raise _unavailable(exc) from None

        async def publish_message(request: Publish, websocket: WebSocket, hub: ChannelsDep) -> Published:
            """Publish to a channel the hub's `authorize` hook allows this connection to publish to."""
            if not await hub.allowed(websocket, request.channel, "publish"):
                raise MessageError(CHANNEL_REFUSED, f"publishing refused: {request.channel!r}")
            try:
                position = await hub.publish(request.channel, request.data)
            except ChannelsUnavailable as exc:
                raise _unavailable(exc) from None
            return Published(channel=request.channel, epoch=position.epoch, offset=position.offset)

        MessageRouter.on_connect(self, connect)
        self.on("subscribe", rate_limit=limits.get("subscribe"))(subscribe)
        self.on("unsubscribe", rate_limit=limits.get("unsubscribe"))(unsubscribe)
        self.on("presence", rate_limit=limits.get("presence"))(members)
        if publish:
            self.on("publish", rate_limit=limits.get("publish"))(publish_message)

    def on_connect(self, hook: Any) -> Any:
        raise TypeError(
            "a ChannelsRouter has its own connect hook; check the handshake in the route's dependencies "
            "(add_api_websocket_route(path, router, dependencies=[...]))"
        )
