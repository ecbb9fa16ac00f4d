"""The flagship chat's page in real headless Chromium, against a real uvicorn: what a person would do."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, client_bundle, requires_chromium
from tests.channels.support import RedisServer, ServerProcess
from tests.examples.test_chat import CHAT
from tests.servers import uvicorn_server

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    client_bundle()
    with uvicorn_server("main:app", app_dir=CHAT) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def enter(browser: Browser, server: str, name: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    page.goto(server)
    page.fill("#name", name)
    page.click("#login button")
    return page


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#say button")


def test_two_people_chat_see_each_other_and_switch_rooms(browser: Browser, server: str) -> None:
    ada = enter(browser, server, "ada")
    expect(ada.locator("#status")).to_have_text("online")
    expect(ada.locator("#room-title")).to_have_text("# lobby")
    bob = enter(browser, server, "bob")
    expect(ada.locator("#members li")).to_have_text(["ada", "bob"])
    expect(bob.locator("#members li")).to_have_text(["ada", "bob"])

    say(bob, "hello ada")
    expect(ada.locator("#messages li .who").last).to_have_text("bob")
    expect(ada.locator("#messages li").last).to_contain_text("hello ada")

    ada.fill("#new-room-name", "dev")
    ada.click("#new-room button")
    expect(ada.locator("#room-title")).to_have_text("# dev")
    say(ada, "anyone here?")
    expect(ada.locator("#messages li").last).to_contain_text("anyone here?")
    say(bob, "in the lobby")  # bob stays in the lobby: ada sees it as unread there
    expect(ada.locator('#rooms li[data-room="lobby"] .unread')).to_have_text("1")
    ada.locator('#rooms li[data-room="lobby"]').click()
    expect(ada.locator("#messages li").last).to_contain_text("in the lobby")

    bob.close()
    expect(ada.locator("#members li")).to_have_text(["ada"])
    expect(ada.locator("#messages li.event").last).to_have_text("bob left")


def test_a_refused_name_is_explained_on_the_login_form(browser: Browser, server: str) -> None:
    page = enter(browser, server, "<script>")
    expect(page.locator("#login-error")).to_contain_text("query.name")
    expect(page.locator("#login")).to_be_visible()


def test_bad_input_shows_an_error_and_the_chat_goes_on(browser: Browser, server: str) -> None:
    page = enter(browser, server, "cy")
    expect(page.locator("#room-title")).to_have_text("# lobby")
    page.evaluate("document.getElementById('text').removeAttribute('maxlength')")
    say(page, "x" * 2001)
    expect(page.locator("#error")).to_contain_text("data.text: String should have at most 2000 characters")
    say(page, "short one")
    expect(page.locator("#messages li").last).to_contain_text("short one")


def test_people_on_two_server_processes_share_rooms_through_redis(browser: Browser, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        env = {"REDIS_URL": redis.url}
        with (
            uvicorn_server("main:app", app_dir=CHAT, env=env) as first,
            uvicorn_server("main:app", app_dir=CHAT, env=env) as second,
        ):
            ada = enter(browser, f"http://127.0.0.1:{first}", "ada")
            bob = enter(browser, f"http://127.0.0.1:{second}", "bob")
            expect(ada.locator("#members li")).to_have_text(["ada", "bob"])
            say(bob, "from the other process")
            expect(ada.locator("#messages li").last).to_contain_text("from the other process")
            late = enter(browser, f"http://127.0.0.1:{first}", "cy")
            expect(late.locator("#messages li", has_text="from the other process")).to_have_count(1)  # history
    finally:
        redis.kill()


def test_a_server_restart_with_the_page_open_reconnects_and_resumes(browser: Browser) -> None:
    client_bundle()
    server = ServerProcess({}, app="main:app", app_dir=CHAT)
    try:
        server.wait()
        page = enter(browser, server.http, "ada")
        expect(page.locator("#status")).to_have_text("online")
        say(page, "before the restart")
        expect(page.locator("#messages li").last).to_contain_text("before the restart")
        server.kill()
        expect(page.locator("#status")).not_to_have_text("online")
        server = ServerProcess({}, app="main:app", app_dir=CHAT, port=server.port)
        server.wait()
        expect(page.locator("#status")).to_have_text("online", timeout=15_000)
        expect(page.locator("#login")).to_be_hidden()  # not sent back to the login screen
        expect(page.locator("#login-error")).to_have_text("")
        # The memory backend lost the room's history with the process: the page says so, keeps what it had.
        # (Said once, before or after the presence events of the resubscribe: the server sends the subscribe's
        # frames in the order it produced them, the `subscribed` frame before the reply with the members.)
        expect(page.locator("#messages li.event", has_text="could not be recovered")).to_have_count(1)
        expect(page.locator("#messages li", has_text="before the restart")).to_have_count(1)
        say(page, "after the restart")
        expect(page.locator("#messages li").last).to_contain_text("after the restart")
        expect(page.locator("#members li")).to_have_text(["ada"])
        # Her own connection was replaced by a new one: she neither left nor joined.
        expect(page.locator("#messages li.event", has_text="ada")).to_have_count(0)
    finally:
        server.kill()


def test_at_phone_width_the_messages_and_the_input_stay_usable(browser: Browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(server)
    page.fill("#name", "phone")
    page.click("#login button")
    expect(page.locator("#room-title")).to_have_text("# lobby")
    for selector, min_height in (("#messages", 300), ("#text", 20), ("#say button", 20), ("#rooms", 20)):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 0.5, (selector, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= 844 + 0.5, (selector, box)
        assert box["height"] >= min_height, (selector, box)
    assert page.locator("#messages").bounding_box()["width"] >= 350  # type: ignore[index]
    page.fill("#text", "typed on a phone")
    page.locator("#say button").tap()
    expect(page.locator("#messages li").last).to_contain_text("typed on a phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out sideways
    context.close()


def test_a_refused_room_name_is_explained_and_not_left_joined(browser: Browser, server: str) -> None:
    page = enter(browser, server, "dee")
    expect(page.locator("#room-title")).to_have_text("# lobby")
    field = page.locator("#new-room-name")
    field.fill("Bad Name!")
    assert field.evaluate("input => input.validity.patternMismatch") is True  # the browser checks it first...
    page.click("#new-room button")
    assert field.evaluate("input => input.validity.valid") is False
    expect(page.locator("#room-title")).to_have_text("# lobby")
    # ...and with the browser's check out of the way, the server's refusal reads as a sentence, not a regex.
    for name in ("Bad Name!", "UPPER"):
        field.evaluate("input => input.removeAttribute('pattern')")
        field.fill(name)
        page.click("#new-room button")
        expect(page.locator("#error")).to_have_text(
            "Room names are 1 to 32 characters: a-z, 0-9 and '-', starting with a letter or digit."
        )
        expect(page.locator("#rooms li", has_text=name)).to_have_count(0)
        expect(page.locator("#room-title")).to_have_text("# lobby")
    field.fill("good-one")
    page.click("#new-room button")
    expect(page.locator("#room-title")).to_have_text("# good-one")
    expect(page.locator("#error")).to_have_text("")


def test_the_page_has_no_console_errors_and_a_favicon(browser: Browser, server: str) -> None:
    page = browser.new_context().new_page()
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    failed: list[str] = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 400 else None)
    page.goto(server)
    page.fill("#name", "eve")
    page.click("#login button")
    expect(page.locator("#status")).to_have_text("online")
    icon = page.request.get(f"{server}/favicon.ico")
    assert (icon.status, icon.headers["content-type"]) == (200, "image/svg+xml")
    assert problems == [] and failed == []  # no script error, no failed request (the icon included)
