"""The chat page at / is static, self-contained (nothing from other hosts) and in Vietnamese."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

_EXTERNAL = re.compile(r"""(?:src|href|url|import|fetch)\s*[=(]\s*["'`]?\s*(?:https?:)?//""", re.IGNORECASE)


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
    for text in [html] + [client.get(a).text for a in assets]:
        assert not _EXTERNAL.search(text)
        assert "http://" not in text and "https://" not in text


def test_the_page_forbids_other_origins_by_content_security_policy(client: TestClient) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy


def test_the_script_highlights_the_answer_inside_its_quote_and_opens_passages(client: TestClient) -> None:
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    js = script.text
    assert "citation.char_start - citation.quote_start" in js
    assert "/v1/chat" in js and "/v1/collections/" in js and "?start=" in js
    assert "innerHTML" not in js  # server text only ever goes through textContent


def test_missing_static_files_are_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/static/nope.js")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client.get("/static/../main.py").status_code == 404
