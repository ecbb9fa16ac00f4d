"""Query-string credentials never reach a log: wsapi's own, nor the server's lines about the handshake."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Annotated

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.servers import served
from wsapi import Depends, Query, WebSocket, WebSocketDisconnect, WsAPI
from wsapi.redaction import redact
from wsapi.security import APIKeyQuery
from wsapi.testclient import TestClient

APPS = Path(__file__).parent / "apps"
SECRET = "TOPSECRET-4f9c"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/ws?token=abc&room=1", "/ws?token=[redacted]&room=1"),
        ("/ws?room=1&access_token=abc", "/ws?room=1&access_token=[redacted]"),
        ("/ws?API_KEY=abc def", "/ws?API_KEY=[redacted] def"),
        ('"WebSocket /ws?password=p%40ss&session=s" 403', '"WebSocket /ws?password=[redacted]&session=[redacted]" 403'),
        ("/ws?name=ada&keyboard=uk", "/ws?name=ada&keyboard=uk"),
        ("no query here", "no query here"),
    ],
)
def test_secret_looking_query_values_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_an_api_key_query_parameter_is_redacted_whatever_its_name() -> None:
    assert redact("/ws?k7=abc") == "/ws?k7=abc"
    APIKeyQuery(name="k7")
    assert redact("/ws?k7=abc") == "/ws?k7=[redacted]"


async def numeric_token(token: Annotated[int, Query()]) -> int:
    return token


def test_a_refused_handshake_does_not_log_the_rejected_value(caplog: pytest.LogCaptureFixture) -> None:
    app = WsAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, user: Annotated[int, Depends(numeric_token)]) -> None:
        await websocket.accept()

    with caplog.at_level(logging.DEBUG, logger="wsapi"), pytest.raises(WebSocketDisconnect) as refused:
        TestClient(app).websocket_connect(f"/ws?token={SECRET}").__enter__()
    assert refused.value.code == 1008
    assert "int_parsing" in caplog.text  # what was wrong is logged, not the value
    assert SECRET not in caplog.text and SECRET not in refused.value.reason


def test_the_servers_handshake_lines_carry_no_token() -> None:
    async def connect(port: int) -> None:
        async with websockets.connect(f"ws://127.0.0.1:{port}/small?access_token={SECRET}") as ws:
            await ws.send("hi")
            await ws.recv()
        with pytest.raises(InvalidStatus):  # a denied handshake is logged with its path too
            await websockets.connect(f"ws://127.0.0.1:{port}/small?token={SECRET}", origin="https://evil.example")

    with tempfile.TemporaryFile() as output:
        with served("guarded:app", app_dir=APPS, log_level="info", output=output) as (port, _):
            asyncio.run(connect(port))
        output.seek(0)
        log = output.read().decode()
    assert "/small?access_token=[redacted]" in log and "[accepted]" in log
    assert "/small?token=[redacted]" in log and "403" in log
    assert SECRET not in log
