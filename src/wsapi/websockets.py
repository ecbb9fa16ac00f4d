"""The WebSocket class is Starlette's: wsapi adds behaviour around it (routing, dependencies, close codes)."""

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState"]
