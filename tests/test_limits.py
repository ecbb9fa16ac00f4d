"""Rate limits and connection caps: each outcome as a client sees it, and each limit turned off."""

from __future__ import annotations

import time
from typing import Annotated

import pytest
from starlette.websockets import WebSocketDisconnect

from wsapi import Depends, Limits, MessageRouter, Query, RateLimit, WebSocket, WsAPI, identify
from wsapi.limits import TokenBucket
from wsapi.testclient import TestClient, WebSocketDenialResponse

OFF = Limits(messages=None, publishes=None, handshakes_per_ip=None, handshakes_per_user=None)


def test_a_bucket_allows_its_burst_then_its_rate_and_remembers_debt() -> None:
    bucket = TokenBucket(rate=4, burst=2)  # times in binary fractions: exact floats
    now = 1000.0
    assert [bucket.take(now) for _ in range(2)] == [0.0, 0.0]
    assert bucket.take(now) == 0.25  # one token short: a quarter of a second
    assert bucket.take(now + 0.25) == 0.25  # the refill paid the debt, this event made a new one
    assert bucket.take(now + 2) == 0.0  # refilled...
    assert bucket.take(now + 2) == 0.0  # ...up to the burst, never beyond
    assert bucket.take(now + 2) > 0
    bucket.take(now + 2)  # two events in debt: as many as the burst
    assert not bucket.exhausted(now + 2)
    bucket.take(now + 2)
    assert bucket.exhausted(now + 2)  # more than `burst` events beyond the limit
    assert not bucket.full(now + 2) and bucket.full(now + 4)


@pytest.mark.parametrize("rate, burst", [(0, 1), (-1, 5), (1, 0)])
def test_a_rate_limit_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimit(rate, burst)


def typed_app(**router_options: object) -> WsAPI:
    app = WsAPI()
    router = MessageRouter(**router_options)  # type: ignore[arg-type]

    @router.on("say", rate_limit=RateLimit(1, burst=2))
    async def say(text: str) -> str:
        return text

    @router.on("ping")
    async def ping() -> str:
        return "pong"

    app.add_api_websocket_route("/ws", router)
    return app


def test_a_typed_route_answers_messages_over_its_limit_with_an_error_frame_then_closes_with_1008() -> None:
    client = TestClient(typed_app(rate_limit=RateLimit(5, burst=4)))
    with client.websocket_connect("/ws") as ws:
        assert [ws.request("ping")["data"] for _ in range(4)] == ["pong"] * 4
        refused = ws.request("ping")
        assert refused["type"] == "error"
        assert refused["data"]["code"] == "rate_limited"
        assert 0 < refused["data"]["retry_after"] <= 0.2 + 0.05
        assert "at most 5 per second (burst 4)" in refused["data"]["message"]
        for _ in range(3):  # still refused while it keeps going
            assert ws.request("ping")["data"]["code"] == "rate_limited"
        ws.send_message("ping", id=99)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_message()
        assert (closed.value.code, closed.value.reason) == (1008, "Rate limit exceeded")


def test_a_client_that_slows_down_recovers() -> None:
    client = TestClient(typed_app(rate_limit=RateLimit(20, burst=2)))
    with client.websocket_connect("/ws") as ws:
        assert [ws.request("ping")["type"] for _ in range(3)] == ["ping.reply", "ping.reply", "error"]
        time.sleep(0.2)  # four tokens' worth: the debt is paid and there is one to spend
        assert ws.request("ping")["data"] == "pong"


def test_a_message_type_has_its_own_limit() -> None:
    client = TestClient(typed_app(rate_limit=None))
    with client.websocket_connect("/ws") as ws:
        assert [ws.request("say", "hi")["type"] for _ in range(3)] == ["say.reply", "say.reply", "error"]
        assert [ws.request("ping")["data"] for _ in range(20)] == ["pong"] * 20  # the others are not held up


def test_a_plain_route_reads_a_fast_client_no_faster_than_its_rate_and_loses_nothing() -> None:
    app = WsAPI()

    @app.websocket("/echo", rate_limit=RateLimit(50, burst=5))
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        for _ in range(30):
            await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    with TestClient(app).websocket_connect("/echo") as ws:
        started = time.monotonic()
        for n in range(30):
            ws.send_text(str(n))
        assert [ws.receive_text() for _ in range(30)] == [str(n) for n in range(30)]
        assert time.monotonic() - started >= (30 - 5) / 50 * 0.9


def test_the_app_default_applies_to_plain_routes_and_none_turns_it_off() -> None:
    def app_with(limits: Limits) -> WsAPI:
        app = WsAPI(limits=limits)

        @app.websocket("/echo")
        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            for _ in range(40):
                await websocket.send_text(await websocket.receive_text())

        return app

    def duration(app: WsAPI) -> float:
        with TestClient(app).websocket_connect("/echo") as ws:
            started = time.monotonic()
            for n in range(40):
                ws.send_text(str(n))
                assert ws.receive_text() == str(n)
            return time.monotonic() - started

    assert duration(app_with(Limits(messages=RateLimit(100, burst=10)))) >= 0.25
    assert duration(app_with(Limits(messages=None))) < 0.25


def test_route_options_that_do_not_apply_to_a_message_router_raise() -> None:
    app = WsAPI()
    with pytest.raises(TypeError, match="set rate_limit and max_message_size on its MessageRouter"):
        app.add_api_websocket_route("/ws", MessageRouter(), rate_limit=None)


async def user(websocket: WebSocket, name: Annotated[str, Query()]) -> str:
    identify(websocket, name)
    return name


def plain_app(limits: Limits) -> WsAPI:
    app = WsAPI(limits=limits)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, name: Annotated[str, Depends(user)]) -> None:
        await websocket.accept()
        await websocket.send_text(name)
        await websocket.receive()  # a message, or the client leaving

    return app


def test_handshakes_over_the_per_ip_limit_are_denied_with_429_and_retry_after() -> None:
    client = TestClient(plain_app(Limits(handshakes_per_ip=RateLimit(1, burst=3))))
    for _ in range(3):
        with client.websocket_connect("/ws?name=ada") as ws:
            assert ws.receive_text() == "ada"
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws?name=ada").__enter__()
    assert denied.value.status_code == 429
    assert denied.value.headers["retry-after"] == "1"


def test_handshakes_over_the_per_user_limit_are_denied_with_429() -> None:
    client = TestClient(plain_app(Limits(handshakes_per_user=RateLimit(1, burst=2), handshakes_per_ip=None)))
    for _ in range(2):
        with client.websocket_connect("/ws?name=ada") as ws:
            assert ws.receive_text() == "ada"
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws?name=ada").__enter__()
    assert denied.value.status_code == 429
    assert "retry-after" in denied.value.headers
    with client.websocket_connect("/ws?name=bob") as ws:  # another user is not held up
        assert ws.receive_text() == "bob"


@pytest.mark.parametrize(
    "limits, status",
    [
        (Limits(max_connections=2), 503),
        (Limits(max_connections_per_ip=2), 429),
        (Limits(max_connections_per_user=2), 429),
    ],
)
def test_connections_over_a_cap_are_denied_and_a_closed_one_frees_its_place(limits: Limits, status: int) -> None:
    client = TestClient(plain_app(limits))
    with client.websocket_connect("/ws?name=ada") as first, client.websocket_connect("/ws?name=ada") as second:
        assert first.receive_text() == second.receive_text() == "ada"
        with pytest.raises(WebSocketDenialResponse) as denied:
            client.websocket_connect("/ws?name=ada").__enter__()
        assert denied.value.status_code == status
        first.send_text("bye")
    with client.websocket_connect("/ws?name=ada") as third:
        assert third.receive_text() == "ada"


def test_every_limit_can_be_turned_off() -> None:
    off = Limits(
        messages=None,
        publishes=None,
        handshakes_per_ip=None,
        handshakes_per_user=None,
        max_connections=None,
        max_connections_per_ip=None,
        max_connections_per_user=None,
    )
    client = TestClient(plain_app(off))
    sessions = [client.websocket_connect("/ws?name=ada") for _ in range(60)]
    try:
        for session in sessions:
            assert session.__enter__().receive_text() == "ada"
    finally:
        for session in sessions:
            session.send_text("bye")
            session.__exit__(None, None, None)


def test_a_per_user_cap_reached_after_accept_closes_with_1008() -> None:
    app = WsAPI(limits=Limits(max_connections_per_user=1))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, name: str) -> None:
        await websocket.accept()
        identify(websocket, name)  # e.g. after a first-message token
        await websocket.send_text(name)
        await websocket.receive_text()

    client = TestClient(app)
    with client.websocket_connect("/ws?name=ada") as first:
        assert first.receive_text() == "ada"
        with client.websocket_connect("/ws?name=ada") as second, pytest.raises(WebSocketDisconnect) as closed:
            second.receive_text()
        assert (closed.value.code, closed.value.reason) == (1008, "Too many connections for this user")
        first.send_text("bye")
