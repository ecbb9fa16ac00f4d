"""The docs pages' HTML: what they load, what they are configured with, and that each links to the others."""

import json
import re

from wsapi import FastAPI
from wsapi.openapi.docs import get_swagger_ui_html
from wsapi.testclient import TestClient


def links(html: str) -> dict[str, str]:
    nav = re.search(r'<nav class="wsapi-docs-links".*?</nav>', html, re.S)
    assert nav, "no links bar"
    return {label: href for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))}


def test_swagger_ui_page_is_configured_like_fastapis() -> None:
    app = FastAPI(
        title="Shop",
        swagger_ui_parameters={"deepLinking": False, "syntaxHighlight": {"theme": "obsidian"}},
        swagger_ui_init_oauth={"clientId": "docs", "usePkceWithAuthorizationCodeGrant": True},
    )
    page = TestClient(app).get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Shop - Swagger UI</title>" in page.text
    assert "swagger-ui-bundle.js" in page.text and "swagger-ui.css" in page.text
    parameters = json.loads(re.search(r"const parameters = (\{.*?\});\n", page.text).group(1))  # type: ignore[union-attr]
    assert parameters["url"] == "/openapi.json"
    assert parameters["oauth2RedirectUrl"] == "/docs/oauth2-redirect"
    assert parameters["deepLinking"] is False and parameters["syntaxHighlight"] == {"theme": "obsidian"}
    assert parameters["layout"] == "BaseLayout"
    assert 'ui.initOAuth({"clientId": "docs", "usePkceWithAuthorizationCodeGrant": true});' in page.text
    redirect = TestClient(app).get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "swaggerUIRedirectOauth2" in redirect.text


def test_redoc_page() -> None:
    page = TestClient(FastAPI(title="Shop")).get("/redoc")
    assert "<title>Shop - ReDoc</title>" in page.text
    assert "redoc.standalone.js" in page.text
    assert 'Redoc.init("/openapi.json"' in page.text


def test_each_docs_page_links_to_the_others_under_the_root_path() -> None:
    client = TestClient(FastAPI(root_path="/api"))
    expected = {"Swagger UI": "/api/docs", "ReDoc": "/api/redoc", "AsyncAPI": "/api/asyncapi"}
    assert links(client.get("/docs").text) == expected
    assert links(client.get("/redoc").text) == expected
    assert links(client.get("/asyncapi").text) == expected
    # A page that is switched off is not linked to.
    assert links(TestClient(FastAPI(redoc_url=None, asyncapi_url=None)).get("/docs").text) == {"Swagger UI": "/docs"}
    assert links(TestClient(FastAPI(docs_url=None)).get("/asyncapi").text) == {
        "ReDoc": "/redoc",
        "AsyncAPI": "/asyncapi",
    }
    assert links(TestClient(FastAPI(openapi_url=None)).get("/asyncapi").text) == {"AsyncAPI": "/asyncapi"}
    assert links(TestClient(FastAPI(asyncapi_docs_url=None)).get("/redoc").text) == {
        "Swagger UI": "/docs",
        "ReDoc": "/redoc",
    }


def test_values_cannot_break_out_of_the_page() -> None:
    page = get_swagger_ui_html(
        openapi_url="/openapi.json", title="</title><script>x</script>", swagger_ui_parameters={"x": "</script>"}
    )
    body = page.body.decode()
    assert "<script>x</script>" not in body
    assert '"x": "<\\/script>"' in body
