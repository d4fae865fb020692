"""The API docs pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), working offline.

FastAPI's own pages load their scripts, styles and favicon from a CDN; these load them from ``/static/vendor``
(``api/static/vendor``, shipped in the wheel with their licences), and a Content-Security-Policy keeps the
browser from asking any other host for anything (Swagger UI's validator badge, ReDoc's footer logo).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

VENDOR = "/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui/swagger-ui.css"
FAVICON = f"{VENDOR}/swagger-ui/favicon-32x32.png"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"
# both UIs run inline bootstrap scripts and inject inline styles; ReDoc's search runs in a blob: worker
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# no online-validator badge (an image from validator.swagger.io, sent the schema's URL), whatever the layout
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"validatorUrl": None}

router = APIRouter(include_in_schema=False)


def _prefix(request: Request) -> str:
    """The path the app is mounted under (``root_path``, as FastAPI's own docs pages use it), without a final /."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _guarded(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get(DOCS_PATH)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for the app's OpenAPI schema; every URL in the page is a path on this server."""
    app, prefix = request.app, _prefix(request)
    return _guarded(get_swagger_ui_html(
        openapi_url=prefix + app.openapi_url,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=prefix + SWAGGER_JS,
        swagger_css_url=prefix + SWAGGER_CSS,
        swagger_favicon_url=prefix + FAVICON,
        oauth2_redirect_url=prefix + OAUTH2_REDIRECT_PATH,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters={**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})},
    ))


@router.get(OAUTH2_REDIRECT_PATH)
def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """The page Swagger UI's OAuth2 sign-in returns to (FastAPI's own; it loads nothing)."""
    return _guarded(get_swagger_ui_oauth2_redirect_html())


@router.get(REDOC_PATH)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc for the app's OpenAPI schema, without Google Fonts; every URL in the page is a path on this server."""
    app, prefix = request.app, _prefix(request)
    return _guarded(get_redoc_html(
        openapi_url=prefix + app.openapi_url,
        title=f"{app.title} - ReDoc",
        redoc_js_url=prefix + REDOC_JS,
        redoc_favicon_url=prefix + FAVICON,
        with_google_fonts=False,
    ))
