"""Prometheus metrics of the WebSocket routes and the channels hub (the `metrics` extra: `pip install wsapi[metrics]`).

    from wsapi.metrics import serve_metrics
    serve_metrics(app)  # counts from now on, and serves them at GET /metrics

The routes and the hub report to `app.metrics`, a `Hooks`: the default one does nothing, so an app without metrics
pays one attribute lookup per connection and one method call per publish. Under `uvicorn --workers N`, set
`PROMETHEUS_MULTIPROC_DIR` to an empty directory before starting uvicorn (prometheus_client's multiprocess mode):
each worker writes its figures there and `/metrics` adds them up, whichever worker answers.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Send

from wsapi.exceptions import REFUSAL_KEY

if TYPE_CHECKING:
    from wsapi.applications import WsAPI

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Hooks:
    """What the routes and the hub report. This base does nothing: metrics are off."""

    on = False

    def watch(self, send: Send, route: str) -> Send:
        """`send` for one WebSocket connection of `route`, wrapped to count it while it is open (see `ended`)."""
        return send

    def ended(self, send: Send) -> None:
        """The connection `send` (from `watch`) belongs to has ended, closed by the app or not."""

    def subscribed(self, route: str) -> None: ...
    def unsubscribed(self, route: str) -> None: ...
    def channels_open(self, count: int) -> None: ...
    def published(self) -> None: ...
    def delivered(self, count: int) -> None: ...
    def dropped(self) -> None: ...
    def slow_consumer_closed(self) -> None: ...
    def backend_failed(self, operation: str) -> None: ...
    def backend_reconnected(self) -> None: ...
    def delivery_latency(self, seconds: float) -> None: ...


OFF = Hooks()


class _Collectors:
    """The Prometheus metrics, created once per process (prometheus_client registers each name once)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        # `livesum`: under multiprocess mode, the sum over the workers that are alive.
        self.connections = Gauge(
            "wsapi_websocket_connections", "Open WebSocket connections", ["route"], multiprocess_mode="livesum"
        )
        self.refused = Counter(
            "wsapi_websocket_refused", "Handshakes refused, by close code or HTTP status", ["route", "code"]
        )
        self.subscriptions = Gauge(
            "wsapi_channel_subscriptions", "Channel subscriptions", ["route"], multiprocess_mode="livesum"
        )
        self.channels = Gauge(
            "wsapi_channels_open", "Channels with subscribers in this process", multiprocess_mode="livesum"
        )
        self.publishes = Counter("wsapi_channel_publishes", "Messages published through the hub")
        self.deliveries = Counter("wsapi_channel_deliveries", "Channel frames queued to subscribers")
        self.drops = Counter("wsapi_channel_queue_drops", "Frames dropped from full queues (on_full='drop_oldest')")
        self.slow_closes = Counter("wsapi_channel_slow_consumer_closes", "Subscribers closed (1013): queue full")
        self.backend_errors = Counter(
            "wsapi_channels_backend_errors", "Backend calls that failed (backend unreachable)", ["operation"]
        )
        self.reconnects = Counter("wsapi_channels_backend_reconnects", "Live backend connections re-established")
        self.latency = Histogram(
            "wsapi_channel_delivery_seconds",
            "From a message reaching this process's hub to its send to the last local subscriber",
            buckets=LATENCY_BUCKETS,
        )


_collectors: _Collectors | None = None


class _Watched:
    """A connection's `send`: counts it as open from its accept to its close, or its refusal by the close code."""

    __slots__ = ("_m", "_open", "_route", "_send")

    def __init__(self, m: _Collectors, send: Send, route: str) -> None:
        self._m = m
        self._send = send
        self._route = route
        self._open: bool | None = None  # None: not accepted yet

    async def __call__(self, message: Message) -> None:
        if self._open is None:
            kind = message["type"]
            if kind == "websocket.accept" and REFUSAL_KEY not in message:
                self._open = True
                self._m.connections.labels(self._route).inc()
            elif kind == "websocket.accept":
                self._refused(message[REFUSAL_KEY])
            elif kind == "websocket.close":
                self._refused(message.get("code", 1000))
            elif kind == "websocket.http.response.start":
                self._refused(message["status"])
        elif self._open and message["type"] == "websocket.close":
            self.end()
        await self._send(message)

    def _refused(self, code: int) -> None:
        self._open = False
        self._m.refused.labels(self._route, str(code)).inc()

    def end(self) -> None:
        if self._open:
            self._open = False
            self._m.connections.labels(self._route).dec()


class PrometheusHooks(Hooks):
    """Reports to prometheus_client's metrics (see `serve_metrics`)."""

    on = True

    def __init__(self) -> None:
        global _collectors
        if _collectors is None:
            _collectors = _Collectors()
        self.m = _collectors

    def watch(self, send: Send, route: str) -> Send:
        return _Watched(self.m, send, route)

    def ended(self, send: Send) -> None:
        assert isinstance(send, _Watched)
        send.end()

    def subscribed(self, route: str) -> None:
        self.m.subscriptions.labels(route).inc()

    def unsubscribed(self, route: str) -> None:
        self.m.subscriptions.labels(route).dec()

    def channels_open(self, count: int) -> None:
        self.m.channels.set(count)

    def published(self) -> None:
        self.m.publishes.inc()

    def delivered(self, count: int) -> None:
        self.m.deliveries.inc(count)

    def dropped(self) -> None:
        self.m.drops.inc()

    def slow_consumer_closed(self) -> None:
        self.m.slow_closes.inc()

    def backend_failed(self, operation: str) -> None:
        self.m.backend_errors.labels(operation).inc()

    def backend_reconnected(self) -> None:
        self.m.reconnects.inc()

    def delivery_latency(self, seconds: float) -> None:
        self.m.latency.observe(seconds)


def serve_metrics(app: WsAPI, path: str = "/metrics") -> PrometheusHooks:
    """Turn metrics on for `app` (its routes and its channels hub) and serve them at `path` (Prometheus' text
    format). Call it once, where the app is created; a hub configured later on the app is not counted."""
    try:
        import prometheus_client
    except ModuleNotFoundError as exc:
        raise RuntimeError("metrics need prometheus_client: pip install 'wsapi[metrics]'") from exc
    hooks = PrometheusHooks()
    app.metrics = hooks
    if app.channels is not None:
        app.channels.metrics = hooks
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

    async def metrics(request: Request) -> Response:
        registry: Any = prometheus_client.REGISTRY
        if multiprocess:
            from prometheus_client import multiprocess as mp

            registry = prometheus_client.CollectorRegistry()
            mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(prometheus_client.generate_latest(registry), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    app.add_route(path, metrics, methods=["GET"], include_in_schema=False)
    if multiprocess:
        lifespan = app.router.lifespan_context

        @asynccontextmanager
        async def leave_when_stopping(app: Any) -> AsyncIterator[Any]:
            try:
                async with lifespan(app) as state:
                    yield state
            finally:
                # A stopped worker's live gauges no longer count.
                from prometheus_client import multiprocess as mp

                mp.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

        app.router.lifespan_context = leave_when_stopping
    return hooks
