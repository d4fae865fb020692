"""/docs (Swagger UI) and /redoc (ReDoc) work offline: their scripts, styles and favicon are files shipped in the
package (``api/static/vendor``, with their licences), and the pages name, and let the browser load, nothing from
another host."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from viqa.api.routes.web import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
PAGES = ["/docs", "/redoc", "/docs/oauth2-redirect"]
# src="…", href='…', url(…), spec-url="…" and Swagger UI's `url: '…'`
REFERENCE = re.compile(r"""(?:\b(?:src|href|spec-url)\s*=\s*|\burl\s*:\s*|\burl\()\s*["']?([^"')\s>]+)""", re.I)
OFF_HOST = re.compile(r"(?:\b[a-z][a-z0-9+.-]*:)?//[^\s\"'<>)]+", re.I)  # http://x, https://x, //x, ftp://x …


def references(html: str) -> list[str]:
    """Every URL the page's markup and bootstrap script name."""
    return REFERENCE.findall(html)


def assets(client: TestClient) -> set[str]:
    """The scripts, styles and icons the docs pages load."""
    return {url for page in ("/docs", "/redoc") for url in references(client.get(page).text)
            if url.startswith("/static/")}


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_name_no_other_host(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert OFF_HOST.findall(html) == []
    for url in references(html):
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        assert url.startswith("/"), url


def test_the_pages_load_their_assets_and_schema_from_this_server(client: TestClient) -> None:
    docs, redoc = client.get("/docs").text, client.get("/redoc").text
    assert set(references(docs)) == {"/static/vendor/swagger-ui/swagger-ui.css", "/openapi.json",
                                     "/static/vendor/swagger-ui/swagger-ui-bundle.js",
                                     "/static/vendor/swagger-ui/favicon-32x32.png"}
    assert set(references(redoc)) == {"/static/vendor/redoc/redoc.standalone.js", "/openapi.json",
                                      "/static/vendor/swagger-ui/favicon-32x32.png"}
    assert '"validatorUrl": null' in docs  # no badge image from validator.swagger.io
    assert "fonts.googleapis" not in redoc


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_forbid_the_browser_any_other_host(client: TestClient, path: str) -> None:
    policy = client.get(path).headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    allowed = {"'self'", "'unsafe-inline'", "data:", "blob:", "'none'"}
    for name, sources in directives.items():
        assert set(sources.split()) <= allowed, (name, sources)


def test_the_docs_assets_are_served_from_the_package(client: TestClient) -> None:
    kinds = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    assert len(assets(client)) == 4
    for url in assets(client):
        response = client.get(url)
        assert response.status_code == 200, url
        assert kinds[Path(url).suffix] in response.headers["content-type"], url
        assert len(response.content) > 500, url
        assert response.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()


def test_the_vendored_assets_carry_their_licences() -> None:
    assert "Apache License" in (VENDOR / "swagger-ui" / "LICENSE").read_text()
    assert "SmartBear" in (VENDOR / "swagger-ui" / "NOTICE").read_text()
    assert "MIT License" in (VENDOR / "redoc" / "LICENSE").read_text()
    for bundle in ("swagger-ui/swagger-ui-bundle.js", "redoc/redoc.standalone.js"):
        assert (VENDOR / f"{bundle}.LICENSE.txt").is_file(), bundle
    readme = (VENDOR / "README.txt").read_text()
    assert "swagger-ui-dist 5." in readme and "Apache-2.0" in readme
    assert "redoc 2." in readme and "MIT" in readme


def test_the_vendored_files_are_the_ones_the_readme_names() -> None:
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (VENDOR / "README.txt").read_text(), re.M)
    assert {name for _, name in listed} == {
        "swagger-ui/swagger-ui-bundle.js", "swagger-ui/swagger-ui.css", "swagger-ui/favicon-32x32.png",
        "redoc/redoc.standalone.js"}
    for digest, name in listed:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_schema_still_loads_without_the_docs_pages_in_it(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/v1/ask" in paths
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(paths)


def test_behind_a_path_prefix_the_pages_name_paths_under_it(app: FastAPI) -> None:
    with TestClient(app, root_path="/viqa") as client:
        for page in ("/docs", "/redoc"):
            urls = references(client.get(page).text)
            assert urls and all(url.startswith("/viqa/") for url in urls), urls


# --- in a real browser (Debian's chromium and the playwright package; skipped without them) ---

ORIGIN = "http://viqa.test"

SWAGGER_LOADS = {"/docs", "/openapi.json", "/static/vendor/swagger-ui/swagger-ui-bundle.js",
                 "/static/vendor/swagger-ui/swagger-ui.css"}
REDOC_LOADS = {"/redoc", "/openapi.json", "/static/vendor/redoc/redoc.standalone.js"}


@pytest.mark.parametrize(("path", "heading", "loads"), [("/docs", ".swagger-ui .info .title", SWAGGER_LOADS),
                                                        ("/redoc", "h1", REDOC_LOADS)])
def test_in_a_browser_the_docs_pages_render_asking_this_server_only(
    browser: Any, client: TestClient, path: str, heading: str, loads: set[str]
) -> None:
    """The app answers every request to ``ORIGIN`` (through the test client); any other is recorded and aborted."""
    from playwright.sync_api import Route, expect

    asked: list[str] = []
    errors: list[str] = []

    def route(r: Route) -> None:
        asked.append(r.request.url)
        if not r.request.url.startswith(ORIGIN + "/"):
            r.abort()
            return
        headers = {k: v for k, v in r.request.headers.items() if k.lower() != "host"}
        response = client.request(r.request.method, r.request.url.removeprefix(ORIGIN), headers=headers,
                                  content=r.request.post_data_buffer)
        r.fulfill(status=response.status_code, headers=dict(response.headers), body=response.content)

    context = browser.new_context(service_workers="block")
    try:
        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(ORIGIN + path)
        expect(page.locator(heading).first).to_contain_text("viqa", timeout=15_000)
        page.wait_for_load_state("networkidle")  # what the rendered page goes on to load (images, the footer logo)
    finally:
        context.close()
    assert [url for url in asked if not url.startswith(ORIGIN + "/")] == []
    assert loads <= {urlsplit(url).path for url in asked}
    # the one complaint allowed is the policy refusing an off-host load (ReDoc's footer logo from cdn.redoc.ly)
    assert [e for e in errors if "violates the following Content Security Policy" not in e] == []
