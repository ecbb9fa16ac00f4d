"""The docs page in real headless Chromium, against the typed chat example served by a real uvicorn."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.asyncapi.conftest import ROOT
from tests.browser import chromium, overflowing, requires_chromium, serve_cdn_packages
from tests.servers import uvicorn_server

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@contextmanager
def docs_page(browser: Browser, server: str, width: int = 1280) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": 800})
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


def listed(section: Locator) -> list[tuple[str, str]]:
    """The messages of a route's section as listed: (name, who sends it), in order."""
    return [
        tuple(pair)
        for pair in section.locator("article.message").evaluate_all(
            "items => items.map(item => [item.dataset.message, item.closest('.direction').dataset.direction])"
        )
    ]


def field(within: Locator, *path: str) -> Locator:
    """The entry of a field tree at `path` (a field, then a field of its value, ...)."""
    for name in path:
        within = within.locator(f'li[data-field="{name}"]').first
    return within


def test_the_page_lists_the_routes_and_their_messages(page: Page) -> None:
    expect(page.locator("#title")).to_have_text("Typed chat")
    chat = page.locator('section.channel[data-channel="chat"]')
    expect(chat.locator("h2")).to_have_text("/chat")
    expect(chat).to_contain_text("Join the room under a name.")
    name = field(chat.locator("ul.handshake"), "name")
    expect(name.locator(".field")).to_have_text("query name string required min length 1 max length 32")
    expect(name.locator(".markdown")).to_have_text("Your name.")
    assert listed(chat) == [
        ("say", "client"),
        ("whois", "client"),
        ("ack", "server"),
        ("error", "server"),
        ("whois.reply", "server"),
        ("said", "server"),
    ]
    # The payload as a tree of fields, the envelope's and those of its `data`.
    say = chat.locator('article.message[data-message="say"]')
    expect(field(say, "type").locator(".field")).to_have_text('type "say" required')
    expect(field(say, "id").locator(".field")).to_have_text("id string | integer")
    expect(field(say, "data").locator(".field").first).to_have_text("data Say required")
    text = field(say, "data", "text")
    expect(text.locator(".field")).to_have_text("text string required min length 1 max length 500")
    expect(text.locator(".markdown")).to_have_text("What to say to the room.")
    error = chat.locator('article.message[data-message="error"]')
    expect(field(error, "data", "retry_after").locator(".field")).to_have_text("retry_after number | null default null")
    # The console: the route's required query parameter as the placeholder, the client messages to send.
    expect(page.locator("#query")).to_have_attribute("placeholder", "name=...")
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
        handshake = route.locator("ul.handshake > li .field")
        expect(handshake).to_have_text(["path client_id string required", "query since string | null"])
        expect(page.locator("#query")).to_have_attribute("placeholder", "optional: since=...")
        assert listed(route) == [(name, "server") for name in ["subscribed", "message", "join", "leave"]]
        subscribed = route.locator('article.message[data-message="subscribed"]')
        # Markdown: `channel` is code.
        expect(subscribed.locator(".summary code").first).to_have_text("channel")
        expect(subscribed).to_contain_text("The messages that follow on channel are those after position")
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


def test_descriptions_are_markdown_without_raw_html(browser: Browser, documented_server: str) -> None:
    with docs_page(browser, documented_server) as page:
        rooms = page.locator('section.channel[data-channel="rooms_room"]')
        leave = rooms.locator('article.message[data-message="leave"] > .markdown')
        expect(leave.locator("strong")).to_have_text("goodbye")
        expect(leave.locator("code")).to_have_text("ack")
        expect(leave.locator("li")).to_have_text(["to everyone", "at once"])
        expect(leave.locator("a")).to_have_count(1)  # the javascript: link is not made a link
        expect(leave.locator("a")).to_have_attribute("href", "https://example.com/rooms")
        # Raw HTML is shown as the text it is, never run or made an element.
        expect(leave).to_contain_text('<img src=x onerror="window.injected = true">')
        expect(leave.locator("img")).to_have_count(0)
        assert page.evaluate("window.injected") is None
        expect(rooms.locator(".markdown code", has_text="error").first).to_be_visible()  # the close codes' text


def test_a_client_and_a_server_message_of_one_name_are_listed_apart(browser: Browser, documented_server: str) -> None:
    with docs_page(browser, documented_server) as page:
        rooms = page.locator('section.channel[data-channel="rooms_room"]')
        assert [entry for entry in listed(rooms) if entry[0] == "said"] == [("said", "client"), ("said", "server")]
        server_said = rooms.locator('.direction[data-direction="server"] article[data-message="said"]')
        expect(server_said.locator(".summary")).to_have_text("Someone said something.")
        client_said = rooms.locator('.direction[data-direction="client"] article[data-message="said"]')
        expect(client_said.locator(".summary")).to_have_count(0)
        # The client's `said` can be sent from the console, once.
        expect(page.locator("#message-type option")).to_have_text(["say", "leave", "said"])


def test_the_console_placeholder_is_the_routes_own_query(browser: Browser, documented_server: str) -> None:
    with docs_page(browser, documented_server) as page:
        expect(page.locator("#query")).to_have_attribute("placeholder", "key=...")  # an API key in the query
        page.select_option("#channel", "items")
        expect(page.locator("#query")).to_have_attribute("placeholder", "optional: q=...")
        page.select_option("#channel", "Counter")
        expect(page.locator("#query")).to_have_attribute("placeholder", "(no query parameters)")


@pytest.fixture(scope="module")
def flagship_server() -> Iterator[str]:
    """examples/chat, the flagship, one process with the memory backend."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("REDIS_URL", raising=False)
        with uvicorn_server("main:app", app_dir=ROOT / "examples" / "chat") as port:
            yield f"127.0.0.1:{port}"


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("app", ["flagship", "documented"])
def test_the_page_fits_a_phone_and_a_desktop(
    browser: Browser, request: pytest.FixtureRequest, app: str, width: int, tmp_path: Path
) -> None:
    server = request.getfixturevalue(f"{app}_server")
    context = browser.new_context(viewport={"width": width, "height": 800})
    refused = serve_cdn_packages(context)
    page = context.new_page()
    page.goto(f"http://{server}/asyncapi")
    try:
        expect(page.locator("section.channel").first).to_be_visible()
        for element in ["nav.wsapi-docs-links", "#title", "#console", "#query", "#connect", "#data", "#send"]:
            expect(page.locator(element)).to_be_visible()
        expect(page.locator("nav.wsapi-docs-links a")).to_have_text(["Swagger UI", "ReDoc", "AsyncAPI"])
        for link in page.locator("nav.wsapi-docs-links a").all():
            expect(link).to_be_visible()
        expect(page.locator("article.message ul.fields").first).to_be_visible()
        page.screenshot(path=tmp_path / f"asyncapi-{app}-{width}.png", full_page=True)
        assert overflowing(page) == []
        if width < 600:  # one column: the console below the routes, as wide as they are
            routes, console = page.locator("#channels").bounding_box(), page.locator("#console").bounding_box()
            assert routes and console and console["y"] >= routes["y"] + routes["height"]
        assert refused == []  # the page needs nothing from off the machine
    finally:
        context.close()
