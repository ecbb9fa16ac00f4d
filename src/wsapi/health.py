"""A readiness route: `serve_health(app)` answers GET /health with 200 while the app can serve its channels, else 503.

    {"status": "ok", "channels": "up"}
    {"status": "unavailable", "channels": "down", "detail": "Redis at 127.0.0.1:6379: the live connection is down"}

An app without a channels hub is always ready. Point a load balancer's or Kubernetes' readiness probe at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from wsapi.channels.errors import ChannelsUnavailable

if TYPE_CHECKING:
    from wsapi.applications import WsAPI


def serve_health(app: WsAPI, path: str = "/health") -> None:
    """Add the readiness route at `path`."""

    async def health(request: Request) -> JSONResponse:
        hub = app.channels
        if hub is None:
            return JSONResponse({"status": "ok"})
        try:
            await hub.check()
        except ChannelsUnavailable as exc:
            return JSONResponse({"status": "unavailable", "channels": "down", "detail": str(exc)}, 503)
        return JSONResponse({"status": "ok", "channels": "up"})

    app.add_route(path, health, methods=["GET"], include_in_schema=False)
