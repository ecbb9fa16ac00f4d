"""wsapi: a WebSocket-first ASGI framework with FastAPI's API."""

from starlette.exceptions import WebSocketException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from wsapi import status
from wsapi.applications import FastAPI, WsAPI
from wsapi.background import BackgroundTasks
from wsapi.channels import Channels, ChannelsDep, ChannelsRouter, Position
from wsapi.connections import identify
from wsapi.datastructures import UploadFile
from wsapi.endpoints import WebSocketEndpoint
from wsapi.exceptions import HTTPException, RequestValidationError, WebSocketRequestValidationError
from wsapi.limits import Limits, RateLimit
from wsapi.messages import MessageError, MessageRouter
from wsapi.params import Body, Cookie, Depends, File, Form, Header, Path, Query, Security
from wsapi.routing import APIRouter
from wsapi.security import SecurityScopes
from wsapi.websockets import WebSocket

__version__ = "0.1.0"

__all__ = [
    "APIRouter",
    "BackgroundTasks",
    "Body",
    "Channels",
    "ChannelsDep",
    "ChannelsRouter",
    "Cookie",
    "Depends",
    "FastAPI",
    "File",
    "Form",
    "HTTPConnection",
    "HTTPException",
    "Header",
    "Limits",
    "MessageError",
    "MessageRouter",
    "Path",
    "Position",
    "Query",
    "RateLimit",
    "Request",
    "RequestValidationError",
    "Response",
    "Security",
    "SecurityScopes",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketEndpoint",
    "WebSocketException",
    "WebSocketRequestValidationError",
    "WebSocketState",
    "WsAPI",
    "identify",
    "status",
]
