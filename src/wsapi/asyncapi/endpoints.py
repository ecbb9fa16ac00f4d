"""The HTTP endpoints that serve the AsyncAPI document and the docs page; the app adds them (`asyncapi_url=`)."""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from wsapi.asyncapi.document import absolute_urls
from wsapi.openapi.docs import LINKS_STYLE, docs_links_html

_FILES = resources.files("wsapi.asyncapi")
# The page renders descriptions as markdown with markdown-it, vendored (vendor/, with its licence): no CDN.
_PAGE = (
    _FILES.joinpath("page.html")
    .read_text(encoding="utf-8")
    .replace("__MARKDOWN_IT__", _FILES.joinpath("vendor/markdown-it.umd.min.js").read_text(encoding="utf-8"))
    .replace("__LINKS_STYLE__", LINKS_STYLE)
)
_SLOTS = re.compile(r"__(TITLE|LINKS|CONFIG)__")


def asyncapi_routes(document_url: str, docs_url: str | None) -> list[Route]:
    routes = [Route(document_url, asyncapi_document, include_in_schema=False)]
    if docs_url:
        routes.append(Route(docs_url, _page_endpoint(document_url), include_in_schema=False))
    return routes


async def asyncapi_document(request: Request) -> JSONResponse:
    # The server is where this request came in: the document is correct behind any host name or proxy prefix.
    document = absolute_urls(request.app.asyncapi(), str(request.base_url))
    server: dict[str, Any] = {"host": request.url.netloc, "protocol": "wss" if request.url.is_secure else "ws"}
    if root_path := request.scope.get("root_path", ""):
        server["pathname"] = root_path
    return JSONResponse({**document, "servers": {"default": server}})


def _page_endpoint(document_url: str) -> Any:
    async def asyncapi_page(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "")
        docs = getattr(request.app, "docs", None)  # the app's docs pages, linked from this one
        links = docs.links(root_path.rstrip("/")) if docs is not None else {}
        config = json.dumps({"url": root_path + document_url, "root": root_path})
        slots = {
            "TITLE": html.escape(request.app.title),
            "LINKS": docs_links_html(request.app.title, links, "AsyncAPI"),
            # `</` cannot end the script element the config sits in when written as `<\/`.
            "CONFIG": config.replace("</", "<\\/"),
        }
        # One pass: a value is never searched for the others' slots.
        return HTMLResponse(_SLOTS.sub(lambda slot: slots[slot.group(1)], _PAGE))

    return asyncapi_page
