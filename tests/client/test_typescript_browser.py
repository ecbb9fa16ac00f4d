"""The TypeScript client's bundle in real headless Chromium, against real uvicorn (and Redis) killed and restarted.

A page subscribed with the client (tests/client/page.html) must see every message exactly once and in order across
a server restart, and be told when history could not be recovered (the reload path). The reconnect spread of 50
pages is measured in test_typescript_reconnect_spread.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import chromium, client_bundle, requires_chromium
from tests.channels.support import RedisServer
from tests.client.conftest import AppServer

pytestmark = requires_chromium

Serve = Callable[..., AppServer]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    client_bundle()
    with chromium() as browser:
        yield browser


def publish(server: AppServer, channel: str, data: Any) -> None:
    response = httpx2.post(f"http://127.0.0.1:{server.port}/publish/{channel}", json=data, timeout=10)
    response.raise_for_status()


def open_page(browser: Browser, server: AppServer, **params: str) -> Page:
    page = browser.new_page()
    query = "&".join(f"{key}={value}" for key, value in params.items())
    page.goto(f"http://127.0.0.1:{server.port}/page?{query}")
    wait(page, "window.seen && window.seen.events.includes('connected')")
    return page


def wait(page: Page, condition: str, timeout: float = 15_000) -> None:
    page.wait_for_function(f"() => {condition}", timeout=timeout)


def seen(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.seen")
    return result


def test_memory_restart_every_message_once_in_order_and_the_reload_path(browser: Browser, serve: Serve) -> None:
    server = serve()
    page = open_page(browser, server, initial="200", max="1000")
    wait(page, "window.seen.subscribed.feed.length === 1")
    for n in range(1, 6):
        publish(server, "feed", n)
    wait(page, "window.seen.messages.feed.length === 5")
    server.kill()
    server.start()  # the memory backend's history went with the process: the page must be told to reload
    wait(page, "window.seen.subscribed.feed.length === 2")
    for n in range(6, 11):
        publish(server, "feed", n)
    wait(page, "window.seen.messages.feed.length >= 10")
    time.sleep(0.1)
    state = seen(page)
    assert state["messages"]["feed"] == list(range(1, 11))
    assert state["reloads"]["feed"] == 1
    assert state["events"].count("connected") == 2
    page.close()


def publish_when_ready(server: AppServer, channel: str) -> None:
    """Publish once the server's Redis connection is back (a publish that failed published nothing)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return publish(server, channel, "probe")
        except httpx2.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_redis_restarts_resume_exactly_once_and_trimmed_history_reloads(
    browser: Browser, serve: Serve, persistent_redis: RedisServer
) -> None:
    env = {"CLIENTS_APP_REDIS_URL": persistent_redis.url, "CLIENTS_APP_HISTORY_SIZE": "10"}
    first, other = serve(**env), serve(**env)
    page = open_page(browser, first, channels="feed,busy", initial="200", max="1000")
    wait(page, "window.seen.subscribed.feed.length === 1 && window.seen.subscribed.busy.length === 1")
    for n in range(1, 6):
        publish(other, "feed", n)
    wait(page, "window.seen.messages.feed.length === 5")
    first.kill()  # the page's server is gone; the app goes on on the other process
    for n in range(6, 11):
        publish(other, "feed", n)  # within the history kept (10)
    for n in range(1, 16):
        publish(other, "busy", n)  # beyond it: the page cannot resume "busy"
    persistent_redis.kill()
    persistent_redis.start()  # Redis restarted onto another process, with its data (AOF)
    publish_when_ready(other, "probe")
    for n in range(11, 16):
        publish(other, "feed", n)
    first.start()  # another uvicorn process at the page's address
    wait(page, "window.seen.subscribed.feed.length === 2 && window.seen.subscribed.busy.length === 2")
    for n in range(16, 21):
        publish(other, "feed", n)
    publish(other, "busy", 16)
    wait(page, "window.seen.messages.feed.length >= 20 && window.seen.messages.busy.length >= 1")
    time.sleep(0.1)
    state = seen(page)
    assert state["messages"]["feed"] == list(range(1, 21))
    assert [s["recovered"] for s in state["subscribed"]["feed"]] == [False, True]  # a fresh start, then resumed
    assert state["reloads"] == {"feed": 0, "busy": 1}
    assert state["messages"]["busy"] == [16]
    page.close()


def test_a_history_expired_while_the_page_was_away_shows_the_reload_path(
    browser: Browser, serve: Serve, redis_server: RedisServer
) -> None:
    server = serve(CLIENTS_APP_REDIS_URL=redis_server.url, CLIENTS_APP_HISTORY_TTL="1")
    page = open_page(browser, server, initial="200", max="1000")
    wait(page, "window.seen.subscribed.feed.length === 1")
    publish(server, "feed", "old")
    wait(page, "window.seen.messages.feed.length === 1")
    server.kill()
    time.sleep(1.5)  # Redis drops the channel's history 1 s after its last publication
    server.start()
    wait(page, "window.seen.subscribed.feed.length === 2")
    publish(server, "feed", "new")  # within a second of the resubscribe, which began the new history
    wait(page, "window.seen.messages.feed.length === 2")
    state = seen(page)
    first, again = state["subscribed"]["feed"]
    assert (again["resumed"], again["recovered"]) == (True, False)
    assert again["position"].split(":")[0] != first["position"].split(":")[0]  # a new history, a new epoch
    assert state["reloads"]["feed"] == 1
    assert state["messages"]["feed"] == ["old", "new"]
    page.close()
