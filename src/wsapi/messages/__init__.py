"""Typed messages on a WebSocket route: handlers per message type, validation, replies and error frames."""

from wsapi.messages.dispatch import Dispatcher, HandlerPlan
from wsapi.messages.envelope import ErrorCode, ErrorData, MessageError
from wsapi.messages.router import MessageRouter

__all__ = ["Dispatcher", "ErrorCode", "ErrorData", "HandlerPlan", "MessageError", "MessageRouter"]
