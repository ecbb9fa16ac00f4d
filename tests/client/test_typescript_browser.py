"""The TypeScript client's bundle in real headless Chromium, against real uvicorn (and Redis) killed and restarted.

A page subscribed with the client (tests/client/page.html) must see every message exactly once and in order across
a server restart, be told when history could not be recovered (the reload path), and 50 pages must spread their
reconnects over the backoff window.
"""

from __future__ import annotations

import statistics
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


def test_fifty_pages_spread_their_reconnects_over_the_backoff_window(browser: Browser, serve: Serve) -> None:
    server = serve()
    window = 1000  # ms: every retry comes at a random time within it
    context = browser.new_context()
    pages = []
    for n in range(50):
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.port}/page?token=p{n}&initial={window}&max={window}", wait_until="commit")
        pages.append(page)
    for page in pages:
        wait(page, "window.seen && window.seen.events.includes('connected')")
    server.kill()
    killed = time.time() * 1000
    server.start()
    for page in pages:
        wait(page, "window.seen.connectedAt.length === 2", timeout=30_000)
    # When each page started the attempt that got it back in (what the server sees as load), and when it was back.
    attempts = sorted(page.evaluate("window.seen.attemptAt[1]") - killed for page in pages)
    connected = sorted(page.evaluate("window.seen.connectedAt[1]") - killed for page in pages)
    context.close()
    spread, deviation = attempts[-1] - attempts[0], statistics.pstdev(attempts)
    busiest = max(sum(1 for t in attempts if start <= t < start + 100) for start in attempts)
    print(
        f"50 pages' successful attempts {attempts[0]:.0f}-{attempts[-1]:.0f} ms after the kill (connected "
        f"{connected[0]:.0f}-{connected[-1]:.0f}): spread {spread:.0f} ms, stdev {deviation:.0f} ms, "
        f"busiest 100 ms: {busiest} of 50"
    )
    # Uniform over the window has a stdev of 0.29 x window; without jitter all 50 come within a few ms.
    assert spread > 0.5 * window and deviation > 0.15 * window
    assert busiest <= 20
