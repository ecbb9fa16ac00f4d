"""Swagger UI and ReDoc in real headless Chromium, on a phone and a desktop, against examples/http_api in uvicorn.

The pages load Swagger UI and ReDoc from the CDN; the tests answer those requests with the same npm packages
(tests/openapi/assets, from its lockfile), since this machine reaches no CDN.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import chromium, overflowing, requires_chromium, serve_cdn_packages
from tests.servers import ROOT, uvicorn_server

pytestmark = requires_chromium

WIDTHS = [390, 1280]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with uvicorn_server("app:app", app_dir=ROOT / "examples" / "http_api") as port:
        yield f"127.0.0.1:{port}"


def open_page(browser: Browser, url: str, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    serve_cdn_packages(context)
    page = context.new_page()
    page.goto(url)
    return page


def expect_links(page: Page, current: str) -> None:
    links = page.locator("nav.wsapi-docs-links a")
    expect(links).to_have_text(["Swagger UI", "ReDoc", "AsyncAPI"])
    for link in links.all():
        expect(link).to_be_visible()
    expect(page.locator("nav.wsapi-docs-links a[aria-current]")).to_have_text(current)


@pytest.mark.parametrize("width", WIDTHS)
def test_swagger_ui_fits_a_phone_and_a_desktop(browser: Browser, server: str, width: int, tmp_path: Path) -> None:
    page = open_page(browser, f"http://{server}/docs", width)
    try:
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Items")
        expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
        expect(page.locator(".swagger-ui .opblock-summary-path")).to_have_count(6)
        expect(page.get_by_role("button", name="Authorize")).to_be_visible()
        expect_links(page, "Swagger UI")
        page.locator(".swagger-ui .opblock-summary-path").first.click()  # an operation opened shows its parameters
        expect(page.locator(".swagger-ui .parameters").first).to_be_visible()
        page.screenshot(path=tmp_path / f"swagger-ui-{width}.png", full_page=True)
        assert overflowing(page) == []
    finally:
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_redoc_fits_a_phone_and_a_desktop(browser: Browser, server: str, width: int, tmp_path: Path) -> None:
    page = open_page(browser, f"http://{server}/redoc", width)
    try:
        expect(page.locator("#redoc h1").first).to_contain_text("Items")
        expect(page.get_by_role("heading", name="List Items")).to_be_visible()
        expect(page.get_by_role("heading", name="Login")).to_be_attached()
        expect_links(page, "ReDoc")
        if width > 1000:  # ReDoc's menu is beside the operations on a desktop, behind a button on a phone
            expect(page.get_by_placeholder("Search...")).to_be_visible()
        page.screenshot(path=tmp_path / f"redoc-{width}.png", full_page=True)
        assert overflowing(page) == []
    finally:
        page.context.close()
