"""Real headless Chromium (Debian's), driven by Playwright: pages run their own JavaScript against real servers."""

import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import async_playwright
from playwright.sync_api import Browser, sync_playwright

from tests.servers import ROOT

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps trying to reach Google's hosts from this closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

CLIENT_BUNDLE = ROOT / "typescript" / "dist" / "index.js"


def client_bundle() -> None:
    """Make sure the TypeScript client's bundle, which pages load, is built (`make client-ts` builds it)."""
    if not CLIENT_BUNDLE.exists():
        subprocess.run(["make", "client-ts"], cwd=ROOT, check=True)


requires_chromium = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed (scripts/system-deps.sh installs it)"
)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium() -> AsyncIterator[AsyncBrowser]:
    """The same browser for async tests (those that also drive servers or clients from the event loop)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
