"""The docs page in real headless Chromium, against the typed chat example served by a real uvicorn."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser import chromium, requires_chromium

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@contextmanager
def docs_page(browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"http://{server}/asyncapi")
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, chat_server: str) -> Iterator[Page]:
    with docs_page(browser, chat_server) as page:
        yield page


def log_entries(page: Page, kind: str) -> list[str]:
    return page.locator(f"#log li.{kind}").all_text_contents()


def directions(section: Locator) -> dict[str, str]:
    rows = section.locator("tr[data-message]")
    names = rows.evaluate_all("rows => rows.map(r => r.dataset.message)")
    return dict(zip(names, rows.locator("td.dir").all_text_contents(), strict=True))


def test_the_page_lists_the_routes_and_their_messages(page: Page) -> None:
    expect(page.locator("#title")).to_have_text("Typed chat")
    chat = page.locator('section.channel[data-channel="chat"]')
    expect(chat.locator("h2")).to_have_text("/chat")
    expect(chat).to_contain_text("Join the room under a name.")
    expect(chat).to_contain_text("Handshake: query name")
    assert directions(chat) == {
        "say": "client → server",
        "whois": "client → server",
        "ack": "server → client",
        "error": "server → client",
        "whois.reply": "server → client",
        "said": "server → client",
    }
    expect(page.locator("#message-type option")).to_have_text(["say", "whois"])
    assert json.loads(page.locator("#data").input_value()) == {"text": ""}  # a skeleton from the schema


def test_the_console_connects_sends_typed_messages_and_shows_replies(page: Page) -> None:
    page.fill("#query", "name=ann")
    page.click("#connect")
    expect(page.locator("#status")).to_have_text("connected")

    page.fill("#data", '{"text": "hello room"}')
    page.click("#send")
    expect(page.locator("#log li.received")).to_have_count(2)
    received = [json.loads(entry.removeprefix("← ")) for entry in log_entries(page, "received")]
    assert received == [{"type": "said", "data": {"name": "ann", "text": "hello room"}}, {"type": "ack", "id": 1}]
    assert json.loads(log_entries(page, "sent")[0].removeprefix("→ ")) == {
        "type": "say",
        "id": 1,
        "data": {"text": "hello room"},
    }

    page.select_option("#message-type", "whois")
    page.click("#send")
    expect(page.locator("#log li.received")).to_have_count(3)
    assert json.loads(log_entries(page, "received")[2].removeprefix("← ")) == {
        "type": "whois.reply",
        "id": 2,
        "data": {"names": ["ann"]},
    }

    page.select_option("#message-type", "say")
    page.fill("#data", '{"text": ""}')
    page.click("#send")
    expect(page.locator("#log li.received")).to_have_count(4)
    error = json.loads(log_entries(page, "received")[3].removeprefix("← "))
    assert error["type"] == "error" and error["id"] == 3
    assert error["data"]["code"] == "validation_error"
    assert error["data"]["errors"][0]["loc"] == ["data", "text"]

    page.click("#disconnect")
    expect(page.locator("#status")).to_have_text("disconnected")
    expect(page.locator("#log li.event").last).to_have_text("closed 1000")


def test_a_refused_connection_shows_its_close_code(page: Page) -> None:
    page.click("#connect")  # no name: the handshake fails validation
    expect(page.locator("#log li.event").last).to_contain_text("closed 1008 query.name: Field required")
    expect(page.locator("#status")).to_have_text("disconnected")


def test_a_route_that_takes_the_hub_shows_the_channel_frames_and_receives_them(
    browser: Browser, channels_chat_server: str
) -> None:
    with docs_page(browser, channels_chat_server) as page:
        route = page.locator('section.channel[data-channel="websocket_endpoint"]')
        expect(route.locator("h2")).to_have_text("/ws/{client_id}")
        expect(route).to_contain_text("Handshake: path client_id, query since")
        assert directions(route) == dict.fromkeys(["subscribed", "message", "join", "leave"], "server → client")
        subscribed = route.locator('tr[data-message="subscribed"]')
        expect(subscribed).to_contain_text("The messages that follow on `channel` are those after position")
        frames = route.locator("details.operation")
        expect(frames.locator("summary")).to_have_text("The frames of the channels the connection is subscribed to.")
        frames.locator("summary").click()
        expect(frames).to_contain_text("1013: the connection's send queue overflowed")
        expect(page.locator("#message-type option")).to_have_text(["(raw text frame)"])

        page.fill("#param-client_id", "7")
        page.click("#connect")
        expect(page.locator("#log li.received")).to_have_count(1)
        first = json.loads(log_entries(page, "received")[0].removeprefix("← "))
        assert (first["type"], first["channel"], first["recovered"]) == ("subscribed", "chat", True)
        page.fill("#data", "hello")
        page.click("#send")
        expect(page.locator("#log li.received")).to_have_count(3)
        received = [json.loads(entry.removeprefix("← ")) for entry in log_entries(page, "received")[1:]]
        message = next(frame for frame in received if frame["type"] == "message")
        assert message["data"] == "Client #7 says: hello"
        assert message["offset"] == first["offset"] + 1
