"""Real headless Chromium (Debian's), driven by Playwright: pages run their own JavaScript against real servers."""

import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import async_playwright
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright

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
DOCS_ASSETS = ROOT / "tests" / "openapi" / "assets" / "node_modules"
# The CDN addresses the /docs and /redoc pages load Swagger UI and ReDoc from (wsapi.openapi.docs).
CDN_PACKAGE = re.compile(r"https://cdn\.jsdelivr\.net/npm/(swagger-ui-dist|redoc)@\d+/([\w./-]+)")


def client_bundle() -> None:
    """Make sure the TypeScript client's bundle, which pages load, is built (`make client-ts` builds it)."""
    if not CLIENT_BUNDLE.exists():
        subprocess.run(["make", "client-ts"], cwd=ROOT, check=True)


def serve_cdn_packages(context: BrowserContext) -> list[str]:
    """Answer the docs pages' CDN requests with the same npm packages, installed from the lockfile in
    tests/openapi/assets (`make docs-assets`): this machine reaches no CDN. Every other request off the machine is
    refused and listed in the list returned."""
    if not DOCS_ASSETS.exists():
        subprocess.run(["make", "docs-assets"], cwd=ROOT, check=True)
    refused: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if match := CDN_PACKAGE.fullmatch(url):
            route.fulfill(path=DOCS_ASSETS / match.group(1) / match.group(2))
        elif re.match(r"https?://(127\.0\.0\.1|localhost)[:/]", url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", handle)
    return refused


# Everything laid out on the page that reaches past the viewport's left or right edge. A box inside a scrolling
# box (a code block, a wide table in its own scroller) does not count: it can be scrolled to; the scroller itself
# counts. A box moved off the screen on purpose (an off-canvas menu, a skip link) is one that lies wholly outside.
_OVERFLOWING = r"""() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  const pageWidth = document.documentElement.scrollWidth;
  if (pageWidth > width) found.push(`the page is ${pageWidth}px wide`);
  const scrolls = (node) => /(auto|scroll)/.test(getComputedStyle(node).overflowX);
  for (const node of document.body.querySelectorAll("*")) {
    const box = node.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(node).visibility === "hidden") continue;
    if (box.left >= -0.5 && box.right <= width + 0.5) continue;
    if (box.right <= 0 || box.left >= width) continue;
    let parent = node.parentElement;
    while (parent && parent !== document.body && !scrolls(parent)) parent = parent.parentElement;
    if (parent && parent !== document.body) continue;
    const name = node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") +
      (typeof node.className === "string" && node.className ? "." + node.className.trim().split(/\s+/).join(".") : "");
    const text = (node.textContent || "").trim().slice(0, 40);
    found.push(`${name} spans ${Math.round(box.left)}..${Math.round(box.right)}px: "${text}"`);
  }
  return found;
}"""


def overflowing(page: Page) -> list[str]:
    """What on `page` sticks out of the viewport sideways, clipped or making the page scroll: empty when nothing."""
    found: list[str] = page.evaluate(_OVERFLOWING)
    return found


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
