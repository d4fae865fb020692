"""The chat page at / is static, self-contained (nothing from other hosts) and in Vietnamese."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from viqa.api.routes.web import STATIC_DIR

_EXTERNAL = re.compile(r"""(?:src|href|url|import|fetch)\s*[=(]\s*["'`]?\s*(?:https?:)?//""", re.IGNORECASE)
# the specifiers of static imports and re-exports (`import {a} from "./x.js"`, `import "./x.js"`, `export … from`)
_IMPORT = re.compile(r"""^\s*(?:(?:import|export)\b[^;'"]*?\bfrom|import)\s*["']([^"']*)["']""", re.MULTILINE)
_RELATIVE = re.compile(r"^\./([a-z][a-z0-9-]*\.js)$")
SCRIPTS = ["/static/api.js", "/static/app.js", "/static/citations.js", "/static/documents.js", "/static/dom.js"]


def module_graph(client: TestClient, entry: str) -> dict[str, str]:
    """Each script the entry module loads, itself included, by its path: its text, following static imports."""
    found: dict[str, str] = {}
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in found:
            continue
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/javascript"), path  # modules need a JS type
        found[path] = response.text
        assert "import(" not in response.text, path  # a dynamic import would escape this walk
        for specifier in _IMPORT.findall(response.text):
            name = _RELATIVE.match(specifier)
            assert name, f"{path} imports {specifier!r}: only ./name.js beside it"
            todo.append(f"/static/{name.group(1)}")
    return found


def test_the_chat_page_is_served_at_the_root(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in response.text
    assert "Đặt câu hỏi" in response.text or "Nhập câu hỏi" in response.text


def test_the_page_and_its_assets_load_nothing_from_other_hosts(client: TestClient) -> None:
    html = client.get("/").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sorted(assets) == ["/static/app.css", "/static/app.js"]
    assert '<script type="module" src="/static/app.js"></script>' in html  # the entry module imports the rest
    scripts = module_graph(client, "/static/app.js")
    assert sorted(scripts) == SCRIPTS
    for text in [html, client.get("/static/app.css").text, *scripts.values()]:
        assert not _EXTERNAL.search(text)
        assert "http://" not in text and "https://" not in text


def test_the_scripts_are_files_directly_in_the_static_folder_and_all_of_them_are_used() -> None:
    # pyproject's package-data ships "static/*" (and static/vendor): a script in another subfolder would be left out
    # of the wheel, and a script nothing imports is dead code
    assert sorted(f"/static/{p.name}" for p in STATIC_DIR.glob("*.js")) == SCRIPTS


def test_the_page_forbids_other_origins_by_content_security_policy(client: TestClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy


def test_the_scripts_highlight_the_answer_inside_its_quote_and_open_passages(client: TestClient) -> None:
    scripts = module_graph(client, "/static/app.js")
    assert "citation.char_start - citation.quote_start" in scripts["/static/citations.js"]
    assert "?start=" in scripts["/static/citations.js"]
    assert "/v1/chat" in scripts["/static/app.js"] and "/v1/collections/" in scripts["/static/api.js"]
    for path, js in scripts.items():
        assert "innerHTML" not in js, path  # server text only ever goes through textContent


def test_missing_static_files_are_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/static/nope.js")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get("/static/../main.py").status_code == 404


def test_static_files_are_revalidated_so_modules_upgrade_together(client) -> None:
    response = client.get("/static/app.js")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-cache"
    assert client.get("/static/app.js", headers={"If-None-Match": response.headers["etag"]}).status_code == 304
