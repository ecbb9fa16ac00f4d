"""The HTTP endpoints that serve the OpenAPI document and its docs pages; the app adds them (`openapi_url=`,
`docs_url=`, `redoc_url=`; None switches one off, and no `openapi_url` switches off all three)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from wsapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html


@dataclass(frozen=True)
class DocsConfig:
    openapi_url: str | None
    docs_url: str | None
    redoc_url: str | None
    oauth2_redirect_url: str | None
    init_oauth: dict[str, Any] | None
    swagger_ui_parameters: dict[str, Any] | None
    asyncapi_docs_url: str | None

    def links(self, root_path: str) -> dict[str, str]:
        """The app's docs pages by label, each page linking to the others."""
        pages = {"Swagger UI": self.docs_url, "ReDoc": self.redoc_url, "AsyncAPI": self.asyncapi_docs_url}
        return {label: root_path + url for label, url in pages.items() if url}


def openapi_routes(config: DocsConfig) -> list[Route]:
    if not config.openapi_url:
        return []
    openapi_url = config.openapi_url

    async def openapi(request: Request) -> JSONResponse:
        document = request.app.openapi()
        root_path = request.scope.get("root_path", "").rstrip("/")
        if root_path and request.app.root_path_in_servers:
            servers = document.get("servers", [])
            if root_path not in {server.get("url") for server in servers}:
                document = {**document, "servers": [{"url": root_path}, *servers]}
        return JSONResponse(document)

    async def swagger_ui(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        redirect = root_path + config.oauth2_redirect_url if config.oauth2_redirect_url else None
        return get_swagger_ui_html(
            openapi_url=root_path + openapi_url,
            title=f"{request.app.title} - Swagger UI",
            oauth2_redirect_url=redirect,
            init_oauth=config.init_oauth,
            swagger_ui_parameters=config.swagger_ui_parameters,
            links=config.links(root_path),
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        return get_redoc_html(
            openapi_url=root_path + openapi_url,
            title=f"{request.app.title} - ReDoc",
            links=config.links(root_path),
        )

    routes = [Route(openapi_url, openapi, include_in_schema=False)]
    if config.docs_url:
        routes.append(Route(config.docs_url, swagger_ui, include_in_schema=False))
        if config.oauth2_redirect_url:
            routes.append(Route(config.oauth2_redirect_url, oauth2_redirect, include_in_schema=False))
    if config.redoc_url:
        routes.append(Route(config.redoc_url, redoc, include_in_schema=False))
    return routes
