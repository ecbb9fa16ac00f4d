"""Cross-site WebSocket hijacking: a page of another origin cannot open the cookie-authenticated socket.

Against a real uvicorn: the `websockets` client with forged `Origin` headers, and headless Chromium loading pages
from the app's own port and from another loopback port (another origin, to which the browser still sends the
app's cookie: cookies do not care about ports).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.browser import chromium, requires_chromium
from tests.servers import free_port, uvicorn_server
from wsapi import WebSocket, WsAPI
from wsapi.origins import OriginPolicy
from wsapi.testclient import TestClient, WebSocketDenialResponse

APPS = Path(__file__).parent / "apps"
COOKIE = "session=s3cr3t-session"


def test_default_allows_only_the_apps_own_host() -> None:
    policy = OriginPolicy()
    assert policy.allows("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert policy.allows("https://chat.example", "chat.example")  # the default port of the page's scheme
    assert policy.allows("https://chat.example", "chat.example:443")
    assert policy.allows(None, "chat.example")  # not a browser
    assert not policy.allows("http://127.0.0.1:8001", "127.0.0.1:8000")
    assert not policy.allows("https://evil.example", "chat.example")
    assert not policy.allows("https://chat.example.evil.example", "chat.example")
    assert not policy.allows("https://chat.example:8443", "chat.example")
    assert not policy.allows("null", "chat.example")  # sandboxed frames, file:// pages
    assert not policy.allows("https://chat.example", None)


def test_lists_and_wildcard_subdomains() -> None:
    policy = OriginPolicy(["https://app.example", "https://*.partner.example", "http://localhost:3000"])
    assert policy.allows("https://app.example", "api.example")
    assert policy.allows("https://app.example:443", "api.example")
    assert policy.allows("https://a.partner.example", "api.example")
    assert policy.allows("https://a.b.partner.example", "api.example")
    assert policy.allows("http://localhost:3000", "api.example")
    assert not policy.allows("https://partner.example", "api.example")  # the wildcard is for subdomains only
    assert not policy.allows("https://evilpartner.example", "api.example")
    assert not policy.allows("http://a.partner.example", "api.example")  # another scheme
    assert not policy.allows("https://api.example", "api.example")  # a list replaces the same-host default
    assert not policy.allows("http://localhost:3001", "api.example")


@pytest.mark.parametrize("entry", ["app.example", "https://app.example/path", "ftp://app.example", "https://"])
def test_an_entry_that_is_no_origin_is_an_error(entry: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        OriginPolicy([entry])


def test_any_origin_is_opt_in_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    import wsapi.origins

    wsapi.origins._warned_any = False
    with caplog.at_level(logging.WARNING, logger="wsapi"):
        OriginPolicy(["*"])
        WsAPI(allowed_origins=["*"])
    warnings = [r for r in caplog.records if "origins are not checked" in r.getMessage()]
    assert len(warnings) == 1
    assert OriginPolicy(["*"]).allows("https://anything.example", "chat.example")


def test_test_client_handshakes_pass_and_forged_origins_are_denied() -> None:
    app = WsAPI()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    client = TestClient(app)
    with client.websocket_connect("/ws") as session:
        assert session.receive_text() == "hi"
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as session:
        assert session.receive_text() == "hi"
    with pytest.raises(WebSocketDenialResponse) as denied:
        client.websocket_connect("/ws", headers={"origin": "https://evil.example"}).__enter__()
    assert denied.value.status_code == 403


PARTNER_PORT: dict[int, int] = {}  # the app's port -> the port its /partner route allows pages from


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """The guarded app; its `/partner` route allows the origin of the port the cross-site pages come from."""
    other = free_port()
    env = {"PARTNER_ORIGIN": f"http://127.0.0.1:{other}"}
    with uvicorn_server("guarded:app", app_dir=APPS, env=env) as port:
        PARTNER_PORT[port] = other
        yield port


def _accepted(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        count: int = json.load(response)["accepted"]
        return count


async def _echo(url: str, **options: object) -> str:
    async with websockets.connect(url, open_timeout=5, **options) as ws:  # type: ignore[arg-type]
        await ws.send("hello")
        return str(await asyncio.wait_for(ws.recv(), 5))


def test_forged_origins_are_denied_with_403_before_accept(server: int) -> None:
    url = f"ws://127.0.0.1:{server}/ws"
    before = _accepted(server)
    for origin in ["https://evil.example", f"http://127.0.0.1:{server + 1}", "null", f"http://localhost:{server}"]:
        with pytest.raises(InvalidStatus) as refused:
            asyncio.run(_echo(url, origin=origin, additional_headers={"Cookie": COOKIE}))
        assert refused.value.response.status_code == 403, origin
        assert b"Origin not allowed" in refused.value.response.body
    assert _accepted(server) == before  # not one of them got as far as the endpoint's accept()
    # Non-browser clients send no Origin; the app's own pages send its own.
    assert asyncio.run(_echo(url, additional_headers={"Cookie": COOKIE})) == "ada: hello"
    own = f"http://127.0.0.1:{server}"
    assert asyncio.run(_echo(url, origin=own, additional_headers={"Cookie": COOKIE})) == "ada: hello"
    assert _accepted(server) == before + 2


@contextlib.contextmanager
def page_server(port: int, html: bytes) -> Iterator[None]:
    """Another origin: a plain HTTP server on `port` that serves `html` at every path."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()


@requires_chromium
def test_a_page_of_another_origin_cannot_open_the_cookie_authenticated_socket(server: int) -> None:
    page_html = urllib.request.urlopen(f"http://127.0.0.1:{server}/", timeout=5).read()
    app_origin, other = f"127.0.0.1:{server}", PARTNER_PORT[server]
    before = _accepted(server)
    with page_server(other, page_html), chromium() as browser:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"http://{app_origin}/login")  # the app's session cookie, as after a real login
        page.goto(f"http://{app_origin}/")
        assert page.evaluate("window.outcome") == {"opened": True, "echoed": "ada: hello", "code": 1000}
        # The attacker's page: another port of the same host, so the browser sends the session cookie along.
        page.goto(f"http://127.0.0.1:{other}/?target={app_origin}&path=/ws")
        outcome = page.evaluate("window.outcome")
        assert outcome["opened"] is False and outcome["echoed"] is None
        assert outcome["code"] == 1006  # all a browser reports of a refused handshake
        # The route that allows that origin opens from the same page, with the cookie: only the check stood between.
        page.goto(f"http://127.0.0.1:{other}/?target={app_origin}&path=/partner")
        assert page.evaluate("window.outcome") == {"opened": True, "echoed": "ada: hello", "code": 1000}
        context.close()
    assert _accepted(server) == before + 2
