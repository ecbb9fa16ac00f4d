"""The HTML of the OpenAPI docs pages: Swagger UI, ReDoc, and Swagger UI's OAuth2 redirect page.

The pages load Swagger UI and ReDoc from a CDN by default, as FastAPI's do; pass `swagger_js_url`,
`swagger_css_url` and `redoc_js_url` to serve them yourself (e.g. from `StaticFiles`, for offline use). `links`
puts a bar of links to the app's other docs pages above the page (the app links its Swagger UI, ReDoc and AsyncAPI
pages to one another).
"""

from __future__ import annotations

import html
import json
from typing import Any

from starlette.responses import HTMLResponse

SWAGGER_JS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"
SWAGGER_CSS_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"
REDOC_JS_URL = "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"

GOOGLE_FONTS_URL = "https://fonts.googleapis.com/css?family=Montserrat:300,400,700|Roboto:300,400,700"

SWAGGER_UI_DEFAULT_PARAMETERS: dict[str, Any] = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}

LINKS_STYLE = """
  body { margin: 0; }
  .wsapi-docs-links { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; padding: 8px 16px;
    background: #1b1f24; font: 14px/1.4 system-ui, sans-serif; }
  .wsapi-docs-links strong { color: #fff; margin-right: auto; }
  .wsapi-docs-links a { color: #9ecbff; text-decoration: none; }
  .wsapi-docs-links a[aria-current] { color: #fff; text-decoration: underline; }
"""


def _json(value: Any) -> str:
    # `</` cannot end the script element the value sits in when written as `<\/`.
    return json.dumps(value).replace("</", "<\\/")


def docs_links_html(title: str, links: dict[str, str] | None, current: str) -> str:
    """A bar naming the app and linking its docs pages (styled by `LINKS_STYLE`); `current` is the label of the page
    it sits on."""
    if not links:
        return ""
    items = "".join(
        f'<a href="{html.escape(url)}"{" aria-current=page" if label == current else ""}>{html.escape(label)}</a>'
        for label, url in links.items()
    )
    return f'<nav class="wsapi-docs-links" aria-label="API docs"><strong>{html.escape(title)}</strong>{items}</nav>'


def get_swagger_ui_html(
    *,
    openapi_url: str,
    title: str,
    swagger_js_url: str = SWAGGER_JS_URL,
    swagger_css_url: str = SWAGGER_CSS_URL,
    swagger_favicon_url: str | None = None,
    oauth2_redirect_url: str | None = None,
    init_oauth: dict[str, Any] | None = None,
    swagger_ui_parameters: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
) -> HTMLResponse:
    parameters = {**SWAGGER_UI_DEFAULT_PARAMETERS, **(swagger_ui_parameters or {}), "url": openapi_url}
    if oauth2_redirect_url:
        parameters["oauth2RedirectUrl"] = oauth2_redirect_url
    favicon = f'<link rel="shortcut icon" href="{html.escape(swagger_favicon_url)}">' if swagger_favicon_url else ""
    oauth = f"ui.initOAuth({_json(init_oauth)});" if init_oauth else ""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link type="text/css" rel="stylesheet" href="{html.escape(swagger_css_url)}">
{favicon}
<style>{LINKS_STYLE}</style>
</head>
<body>
{docs_links_html(title, links, "Swagger UI")}
<div id="swagger-ui"></div>
<script src="{html.escape(swagger_js_url)}"></script>
<script>
const parameters = {_json(parameters)};
parameters.presets = [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset];
const ui = SwaggerUIBundle(parameters);
{oauth}
</script>
</body>
</html>"""
    return HTMLResponse(page)


def get_redoc_html(
    *,
    openapi_url: str,
    title: str,
    redoc_js_url: str = REDOC_JS_URL,
    redoc_favicon_url: str | None = None,
    with_google_fonts: bool = False,
    links: dict[str, str] | None = None,
) -> HTMLResponse:
    """ReDoc's page. Unlike FastAPI's, it loads no web fonts unless `with_google_fonts=True`: ReDoc then uses the
    fonts it was designed with, otherwise the system's."""
    head = f'<link rel="shortcut icon" href="{html.escape(redoc_favicon_url)}">' if redoc_favicon_url else ""
    if with_google_fonts:
        head += f'<link href="{GOOGLE_FONTS_URL}" rel="stylesheet">'
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
{head}
<style>{LINKS_STYLE}</style>
</head>
<body>
{docs_links_html(title, links, "ReDoc")}
<div id="redoc"></div>
<script src="{html.escape(redoc_js_url)}"></script>
<script>Redoc.init({_json(openapi_url)}, {{}}, document.getElementById("redoc"));</script>
</body>
</html>"""
    return HTMLResponse(page)


def get_swagger_ui_oauth2_redirect_html() -> HTMLResponse:
    """The page an OAuth2 provider redirects to after login from Swagger UI: it hands the result back to the
    Swagger UI window that opened it (`window.opener.swaggerUIRedirectOauth2`) and closes."""
    page = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 redirect</title></head>
<body>
<script>
"use strict";
(function () {
  const redirect = window.opener && window.opener.swaggerUIRedirectOauth2;
  if (!redirect) { document.body.textContent = "This page finishes a login started from Swagger UI."; return; }
  const raw = /code|token|error/.test(window.location.hash)
    ? window.location.hash.slice(1) : window.location.search.slice(1);
  const params = Object.fromEntries(new URLSearchParams(raw));
  const flow = redirect.auth.schema.get("flow");
  const codeFlow = flow === "accessCode" || flow === "authorizationCode" || flow === "authorization_code";
  if (redirect.state !== params.state) {
    redirect.errCb({ authId: redirect.auth.name, source: "auth", level: "warning",
      message: "Authorization may be unsafe: the state returned differs from the state sent." });
  }
  if (codeFlow && !redirect.auth.code) {
    if (params.code) {
      delete redirect.state;
      redirect.auth.code = params.code;
      redirect.callback({ auth: redirect.auth, redirectUrl: window.location.href.split("?")[0].split("#")[0] });
    } else {
      const reason = params.error ? `${params.error}: ${params.error_description || ""}` : "no code received";
      redirect.errCb({ authId: redirect.auth.name, source: "auth", level: "error",
        message: `Authorization failed (${reason})` });
    }
  } else {
    redirect.callback({ auth: redirect.auth, token: params, isValid: true,
      redirectUrl: window.location.href.split("?")[0].split("#")[0] });
  }
  window.close();
})();
</script>
</body>
</html>"""
    return HTMLResponse(page)
