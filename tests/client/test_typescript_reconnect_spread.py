"""50 real Chromium pages on the TypeScript client, their server killed and restarted: their reconnects spread.

The pages open concurrently (one browser context, 50 tabs) so that the test takes seconds, not half a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from tests.browser import async_chromium, client_bundle, requires_chromium
from tests.client.conftest import AppServer, assert_spread

pytestmark = [requires_chromium, pytest.mark.anyio]


async def test_fifty_pages_spread_their_reconnects_over_the_backoff_window(serve: Callable[..., AppServer]) -> None:
    client_bundle()
    server = serve()
    window = 1000  # ms: every retry comes at a random time within it
    async with async_chromium() as browser:
        context = await browser.new_context()
        pages: list[Any] = []

        async def open_page(n: int) -> None:
            page = await context.new_page()
            pages.append(page)
            await page.goto(f"http://127.0.0.1:{server.port}/page?token=p{n}&initial={window}&max={window}")

        async with anyio.create_task_group() as group:
            for n in range(50):
                group.start_soon(open_page, n)
        await every(pages, "window.seen && window.seen.connectedAt.length === 1")
        server.kill()
        killed = time.time() * 1000
        await anyio.to_thread.run_sync(server.start)
        await every(pages, "window.seen.connectedAt.length === 2")
        seen: list[dict[str, Any]] = [await page.evaluate("window.seen") for page in pages]
        await context.close()
    # The first retry of each page (the burst a restart would cause), and the attempt that got it back in.
    first = [min(t for t in page["connectingAt"] if t > killed) - killed for page in seen]
    back = [max(t for t in page["connectingAt"] if t <= page["connectedAt"][1]) - killed for page in seen]
    assert_spread([t / 1000 for t in first], window / 1000, "50 pages' first retries")
    assert_spread([t / 1000 for t in back], window / 1000, "50 pages' successful attempts")


async def every(pages: list[Any], condition: str) -> None:
    async with anyio.create_task_group() as group:
        for page in pages:
            group.start_soon(lambda page=page: page.wait_for_function(f"() => {condition}", timeout=30_000))
