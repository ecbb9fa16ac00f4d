"""The layout check the docs pages' browser tests rely on: it must see what sticks out, and only that."""

from playwright.sync_api import Page

from tests.browser import chromium, overflowing, requires_chromium

pytestmark = requires_chromium


def laid_out(page: Page, body: str) -> list[str]:
    page.set_content(f'<body style="margin: 0">{body}</body>')
    return overflowing(page)


def test_overflowing_finds_what_sticks_out_sideways_and_spares_scrollers_and_off_canvas_boxes() -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 800})
        assert laid_out(page, '<p style="width: 380px">fits</p>') == []
        assert laid_out(page, '<p style="width: 500px">wide</p>') == [
            "the page is 500px wide",
            'p spans 0..500px: "wide"',
        ]
        # Clipped by a parent that hides its overflow: the page does not widen, the box still sticks out.
        assert laid_out(page, '<div style="overflow: hidden"><p style="width: 500px">cut</p></div>') == [
            'p spans 0..500px: "cut"'
        ]
        # Inside a box that scrolls sideways (a code block) it can be scrolled to; off the screen on purpose too.
        assert (
            laid_out(
                page, '<pre style="overflow: auto"><span style="display: inline-block; width: 900px">x</span></pre>'
            )
            == []
        )
        assert laid_out(page, '<nav style="position: fixed; left: -300px; width: 280px">menu</nav>') == []
