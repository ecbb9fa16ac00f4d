"""The standard channels route (`ChannelsRouter`): its protocol in-process, its refusals, its AsyncAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

from wsapi import Depends, Limits, RateLimit, WebSocket, WebSocketDisconnect, WsAPI
from wsapi.channels import Channels, ChannelsRouter, ChannelSubscription
from wsapi.limits import DEFAULT_LIMITS
from wsapi.security import APIKeyQuery
from wsapi.testclient import TestClient, WebSocketTestSession

token = APIKeyQuery(name="token")


async def member(key: Annotated[str, Depends(token)]) -> dict[str, str]:
    return {"name": key}


def only_public(websocket: WebSocket, channel: str) -> bool:
    return channel.startswith("public")


def make_app(router: ChannelsRouter, limits: Limits = DEFAULT_LIMITS, **hub: Any) -> WsAPI:
    app = WsAPI(channels=Channels(**hub), limits=limits)
    app.add_api_websocket_route("/channels", router, dependencies=[Depends(token)])
    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app(ChannelsRouter(publish=True, presence=member), authorize=only_public)) as client:
        yield client


def next_of(ws: WebSocketTestSession, type: str) -> dict[str, Any]:
    while (frame := ws.receive_message())["type"] != type:
        pass
    return frame


def test_subscribe_publish_presence_unsubscribe(client: TestClient) -> None:
    with client.websocket_connect("/channels?token=ada") as ada:
        reply = ada.request("subscribe", {"channel": "public"})
        assert reply["type"] == "subscribe.reply"
        assert [m["info"] for m in reply["data"]["members"]] == [{"name": "ada"}]
        published = ada.request("publish", {"channel": "public", "data": {"n": 1}})
        assert published["type"] == "publish.reply"
        message = next_of(ada, "message")
        assert message["data"] == {"n": 1}
        assert (message["epoch"], message["offset"]) == (published["data"]["epoch"], published["data"]["offset"])
        with client.websocket_connect("/channels?token=bob") as bob:
            assert bob.request("subscribe", {"channel": "public"})["type"] == "subscribe.reply"
            assert next_of(ada, "join")["client"]["info"] == {"name": "bob"}
            names = [m["info"]["name"] for m in ada.request("presence", {"channel": "public"})["data"]["members"]]
            assert sorted(names) == ["ada", "bob"]
            assert bob.request("unsubscribe", {"channel": "public"})["type"] == "ack"
            assert next_of(ada, "leave")["client"]["info"] == {"name": "bob"}


def test_resume_with_since_and_start_with_history(client: TestClient) -> None:
    with client.websocket_connect("/channels?token=ada") as ada:
        positions = [ada.request("publish", {"channel": "public:h", "data": n})["data"] for n in range(5)]
        second = positions[1]
        ada.request("subscribe", {"channel": "public:h", "since": f"{second['epoch']}:{second['offset']}"})
        assert next_of(ada, "subscribed")["recovered"] is True
        assert [next_of(ada, "message")["data"] for _ in range(3)] == [2, 3, 4]
    with client.websocket_connect("/channels?token=bob") as bob:
        bob.request("subscribe", {"channel": "public:h", "history": 2})
        assert next_of(bob, "subscribed")["offset"] == 3
        assert [next_of(bob, "message")["data"] for _ in range(2)] == [3, 4]


def test_refusals_are_error_frames_and_the_connection_stays(client: TestClient) -> None:
    with client.websocket_connect("/channels?token=ada") as ada:
        assert ada.request("subscribe", {"channel": "public"})["type"] == "subscribe.reply"
        refused = ada.request("subscribe", {"channel": "secret"})
        assert refused["data"] == {"code": "channel_refused", "message": "channel refused: 'secret'"}
        assert ada.request("publish", {"channel": "secret", "data": 1})["data"]["code"] == "channel_refused"
        assert ada.request("presence", {"channel": "secret"})["data"]["code"] == "channel_refused"
        bad = ada.request("subscribe", {"channel": "a b"})
        assert (bad["data"]["code"], bad["data"]["errors"][0]["loc"]) == ("validation_error", ["data", "channel"])
        bad = ada.request("subscribe", {"channel": "public", "since": "nope"})
        assert bad["data"]["errors"][0]["loc"] == ["data", "since"]
        ada.request("publish", {"channel": "public", "data": "still subscribed"})
        assert next_of(ada, "message")["data"] == "still subscribed"


def test_the_handshake_dependencies_refuse_before_anything_else(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/channels"):
        pass
    assert (refused.value.code, refused.value.reason) == (1008, "Not authenticated")


def test_publish_is_opt_in_and_a_two_argument_hook_decides_it_too() -> None:
    with (
        TestClient(make_app(ChannelsRouter())) as client,
        client.websocket_connect("/channels?token=ada") as ada,
    ):
        assert ada.request("publish", {"channel": "public", "data": 1})["data"]["code"] == "unknown_type"
        reply = ada.request("subscribe", {"channel": "public"})
        assert reply["data"]["members"] == []  # no presence dependency: not listed
    with (
        TestClient(make_app(ChannelsRouter(publish=True), authorize=only_public)) as client,
        client.websocket_connect("/channels?token=ada") as ada,
    ):
        assert ada.request("publish", {"channel": "other", "data": 1})["data"]["code"] == "channel_refused"
        assert ada.request("publish", {"channel": "public", "data": 1})["type"] == "publish.reply"


def test_the_app_adds_its_own_messages_and_reads_the_subscription() -> None:
    router = ChannelsRouter()

    @router.on("mine")
    async def mine(subscription: ChannelSubscription) -> list[str]:
        return sorted(subscription.channels)

    with TestClient(make_app(router)) as client, client.websocket_connect("/channels?token=ada") as ada:
        ada.request("subscribe", {"channel": "b"})
        ada.request("subscribe", {"channel": "a"})
        assert ada.request("mine")["data"] == ["a", "b"]
    with pytest.raises(TypeError, match="its own connect hook"):
        router.on_connect(mine)


def test_the_apps_limits_apply_to_the_route() -> None:
    router = ChannelsRouter(publish=True, rate_limits={"subscribe": RateLimit(0.1, burst=2)})
    app = make_app(router, Limits(publishes=RateLimit(0.1, burst=3)))
    with TestClient(app) as client, client.websocket_connect("/channels?token=ada") as ada:
        answers = [ada.request("publish", {"channel": "c", "data": n})["type"] for n in range(4)]
        assert answers == ["publish.reply"] * 3 + ["error"]
        refused = [ada.request("subscribe", {"channel": f"c{n}"}) for n in range(3)]
        assert [r["type"] for r in refused] == ["subscribe.reply", "subscribe.reply", "error"]
        assert refused[2]["data"]["code"] == "rate_limited"
    with pytest.raises(ValueError, match="own types"):
        ChannelsRouter(rate_limits={"publish": RateLimit(1, burst=1)})  # publish is not enabled
