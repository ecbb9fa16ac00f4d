"""The flagship chat's page in real headless Chromium, against a real uvicorn: what a person would do."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, requires_chromium
from tests.channels.support import RedisServer
from tests.examples.test_chat import CHAT
from tests.servers import uvicorn_server

pytestmark = requires_chromium


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
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
