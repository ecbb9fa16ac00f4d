"""Serving an app with uvicorn, the server's frame limit taken from the app's routes.

A route's `max_message_size` is checked by the app, after the server has read, inflated and decoded the whole
message: uvicorn accepts up to 16 MiB (`--ws-max-size`) by default. The launcher sets that server limit to the
largest message any of the app's WebSocket routes accepts, so that a larger frame is refused by the server from its
header (close 1009) without being buffered, and a compressed one as soon as its inflated size passes the limit.

    python -m wsapi main:app --port 8000        # any uvicorn option; `--ws-max-size` given explicitly wins
    wsapi.server.run(app, port=8000)             # the same from Python (`uvicorn.run`'s keyword arguments)

Each connection's route still checks its own, smaller limit.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Mount, WebSocketRoute

__all__ = ["largest_message_size", "main", "run"]


def largest_message_size(app: Any) -> int:
    """The largest message, in bytes, that a WebSocket route of `app` (a WsAPI app) accepts."""
    return _largest(app.router.routes, app.connections.limits.max_message_size)


def _largest(routes: Sequence[BaseRoute], app_default: int) -> int:
    from wsapi.routing import APIWebSocketRoute

    largest = 0
    for route in routes:
        if isinstance(route, APIWebSocketRoute) and route.dispatcher is not None:
            largest = max(largest, route.dispatcher.router.max_message_size)
        elif isinstance(route, APIWebSocketRoute) and route.max_message_size is not None:
            largest = max(largest, route.max_message_size)
        elif isinstance(route, WebSocketRoute):
            largest = max(largest, app_default)
        elif isinstance(route, Mount) and route.routes:  # a mounted app that is no router (static files) counts not
            largest = max(largest, _largest(route.routes, app_default))
    return largest or app_default


def run(app: Any, **options: Any) -> None:
    """`uvicorn.run(app, **options)` with `ws_max_size` from the app unless given; `app` may be an import string."""
    import uvicorn
    from uvicorn.importer import import_from_string

    if "ws_max_size" not in options:
        instance = import_from_string(app) if isinstance(app, str) else app
        if options.get("factory"):
            instance = instance()
        options["ws_max_size"] = largest_message_size(instance)
    uvicorn.run(app, **options)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m wsapi APP [uvicorn options]`: uvicorn's command line, with `--ws-max-size` from the app."""
    import click
    from uvicorn.importer import import_from_string
    from uvicorn.main import main as command

    args = list(sys.argv[1:] if argv is None else argv)
    with command.make_context("python -m wsapi", args) as context:
        if context.get_parameter_source("ws_max_size") is click.core.ParameterSource.DEFAULT:
            sys.path.insert(0, context.params["app_dir"])
            instance = import_from_string(context.params["app"])
            if context.params["factory"]:
                instance = instance()
            context.params["ws_max_size"] = largest_message_size(instance)
        command.invoke(context)
