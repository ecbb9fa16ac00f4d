"""An HTTP API for services in any language to drive the app's channels: `serve_api(app, token=...)`.

Opt-in and authenticated: every call needs `Authorization: Bearer <token>` (401 without, 403 with a wrong one).
Under `prefix` (default `/api/channels`):

- `POST /publish/{channel}`, body: any JSON value -> `{"epoch": ..., "offset": ...}`
- `GET /history/{channel}[?since=<epoch>:<offset>]` -> `{"epoch", "offset", "recovered", "messages": [frames]}`
- `GET /presence/{channel}` -> `[{"id": ..., "info": ...}]`
- `POST /disconnect`, body `{"user": ..., "code": 4403, "reason": "..."}` -> 202: every connection `identify`d as
  that user, on every process, is closed with that code (`hub.disconnect_user`)

See docs/operations.md for `curl` examples.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from wsapi.channels.errors import ChannelsUnavailable, InvalidChannel
from wsapi.channels.frames import Position
from wsapi.channels.hub import ChannelsDep
from wsapi.connections import CLOSE_REVOKED
from wsapi.exceptions import HTTPException
from wsapi.params import Body, Depends
from wsapi.routing import APIRouter
from wsapi.security import HTTPAuthorizationCredentials, HTTPBearer

if TYPE_CHECKING:
    from wsapi.applications import WsAPI

_bearer = HTTPBearer(auto_error=False)


def serve_api(app: WsAPI, *, token: str, prefix: str = "/api/channels") -> None:
    """Add the server API to `app` (which needs a channels hub), answering only requests that carry `token`."""
    if app.channels is None:
        raise RuntimeError("the server API drives the channels hub: create the app with WsAPI(channels=Channels(...))")
    if len(token) < 16:
        raise ValueError("the server API's token must be at least 16 characters (e.g. secrets.token_urlsafe())")
    expected = token.encode()

    def authenticate(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        if credentials is None:
            raise HTTPException(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
        if not secrets.compare_digest(credentials.credentials.encode(), expected):
            raise HTTPException(403, "Invalid token")

    router = APIRouter(prefix=prefix, dependencies=[Depends(authenticate)])

    @router.post("/publish/{channel:path}")
    async def publish(channel: str, hub: ChannelsDep, data: Any = Body()) -> dict[str, Any]:
        with _answering():
            position = await hub.publish(channel, data)
        return {"epoch": position.epoch, "offset": position.offset}

    @router.get("/history/{channel:path}")
    async def history(channel: str, hub: ChannelsDep, since: Position | None = None) -> dict[str, Any]:
        with _answering():
            snapshot = await hub.history(channel, since)
        position = snapshot.position
        messages = [json.loads(frame) for _, frame in snapshot.frames or ()]
        recovered = snapshot.frames is not None
        return {"epoch": position.epoch, "offset": position.offset, "recovered": recovered, "messages": messages}

    @router.get("/presence/{channel:path}")
    async def presence(channel: str, hub: ChannelsDep) -> list[dict[str, Any]]:
        with _answering():
            members = await hub.presence(channel)
        return [{"id": member.id, "info": member.info} for member in members]

    @router.post("/disconnect", status_code=202)
    async def disconnect(order: Disconnect, hub: ChannelsDep) -> dict[str, Any]:
        with _answering():
            await hub.disconnect_user(order.user, code=order.code, reason=order.reason)
        return order.model_dump()

    app.include_router(router)


class Disconnect(BaseModel):
    """Close a user's connections: `user` as the app passed it to `identify` (a string or an integer)."""

    user: str | int
    code: int = Field(CLOSE_REVOKED, ge=3000, le=4999)  # an application's close code
    reason: str = Field("Access revoked", max_length=120)  # a close frame holds 123 bytes of reason


@contextmanager
def _answering() -> Iterator[None]:
    """Backend and naming errors as HTTP answers: 422 for a malformed channel name, 503 while the backend is down."""
    try:
        yield
    except InvalidChannel as exc:
        raise HTTPException(422, str(exc)) from exc
    except ChannelsUnavailable as exc:
        raise HTTPException(503, str(exc)) from exc
