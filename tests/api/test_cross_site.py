"""Safe by default (as Jupyter's server is): no web page can write to the index, the Host must be a name this
server answers to (no DNS rebinding), and only the proxies in VIQA_TRUSTED_PROXIES may say who the client is."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fakes import LOOPBACK, REMOTE, FakeIndex, running
from viqa.errors import InputError
from viqa.net import forwarded_elements, host_allowed, node_address

UPLOAD = "/v1/collections/default/documents"
DOC = {"doc_id": "gia-xang", "text": "Giá xăng tháng 11 là 23 nghìn đồng."}
FILE = {"file": ("gia-xang.txt", "Giá xăng tháng 11 là 23 nghìn đồng.".encode())}
EVIL = "http://evil.example"
# what a browser sends with a form that a page of another site submits to the server: no custom header
CROSS_SITE_FORM = {"Origin": EVIL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}


@pytest.fixture
def bare(app: FastAPI) -> TestClient:
    """A loopback client that sends no CSRF header: a browser's form, curl without -H, another page's fetch."""
    with running(app, headers={}) as client:
        yield client


# --- writes need proof of the same origin ---------------------------------------------------------------------


def test_a_cross_site_form_upload_is_refused_and_queues_nothing(bare: TestClient, fake_index: FakeIndex) -> None:
    response = bare.post(UPLOAD, files=FILE, headers=CROSS_SITE_FORM)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cross_site"
    assert fake_index.calls == [] and not fake_index.started.is_set()


def test_a_keyless_write_without_the_csrf_header_is_refused_even_from_loopback(bare: TestClient) -> None:
    for response in (bare.post(UPLOAD, files=FILE), bare.post(UPLOAD, json=DOC),
                     bare.delete(f"{UPLOAD}/bao-cao-thang-11")):
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "csrf" and "X-Requested-With" in error["message"]


def test_a_keyless_write_with_the_csrf_header_is_accepted_from_loopback(bare: TestClient) -> None:
    assert bare.post(UPLOAD, files=FILE, headers={"X-Requested-With": "viqa"}).status_code == 202


@pytest.mark.parametrize("browser", [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"},
                                     {"Origin": "http://localhost:8000", "Host": "localhost:8000"}])
def test_what_only_a_browser_sets_proves_the_same_origin_without_the_csrf_header(
    bare: TestClient, browser: dict[str, str]
) -> None:
    # Origin and Sec-Fetch-* are forbidden header names: no page's script can set them (Swagger UI on /docs
    # uploads so); the Host check keeps a rebound name from passing for this server
    assert bare.post(UPLOAD, files=FILE, headers=browser).status_code == 202
    assert bare.post(UPLOAD, files=FILE, headers={**browser, "Host": "evil.example"}).status_code == 400


@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_write_whose_origin_is_another_site_is_refused_even_with_the_csrf_header(
    client: TestClient, method: str
) -> None:
    path = UPLOAD if method == "post" else f"{UPLOAD}/bao-cao-thang-11"
    kwargs = {"json": DOC} if method == "post" else {}
    for origin in (EVIL, "null", "http://testserver:8080", "https://testserver"):
        response = getattr(client, method)(path, headers={"Origin": origin}, **kwargs)
        assert response.status_code == 403, origin
        assert response.json()["error"]["code"] == "cross_site"


def test_a_write_from_another_site_is_refused_even_with_the_key(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(api_key="k"), client=REMOTE, headers={"X-API-Key": "k"}) as client:
        assert client.post(UPLOAD, json=DOC, headers={"Origin": EVIL}).status_code == 403
        assert client.post(UPLOAD, json=DOC, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
        assert client.post(UPLOAD, json=DOC).status_code == 202


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_sec_fetch_site_other_than_same_origin_is_refused_on_writes(client: TestClient, site: str) -> None:
    # same-site: another port of localhost (a dev server's page) is the same site, not the same origin
    response = client.post(UPLOAD, json=DOC, headers={"Sec-Fetch-Site": site})
    assert response.status_code == 403 and response.json()["error"]["code"] == "cross_site"


def test_a_same_origin_write_from_the_page_is_accepted(client: TestClient) -> None:
    headers = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}
    assert client.post(UPLOAD, files=FILE, headers=headers).status_code == 202
    assert client.post(UPLOAD, json=DOC, headers={"Sec-Fetch-Site": "none"}).status_code == 202  # typed URL


def test_another_port_of_localhost_is_another_origin(client: TestClient) -> None:
    headers = {"Host": "localhost:8000", "Origin": "http://localhost:3000"}
    assert client.post(UPLOAD, json=DOC, headers=headers).status_code == 403
    same = {"Host": "localhost:8000", "Origin": "http://localhost:8000"}
    assert client.post(UPLOAD, json=DOC, headers=same).status_code == 202


def test_an_origin_listed_in_cors_origins_may_write(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(cors_origins=["http://app.test"])) as client:
        headers = {"Origin": "http://app.test", "Sec-Fetch-Site": "cross-site"}
        assert client.post(UPLOAD, json=DOC, headers=headers).status_code == 202
        preflight = client.options(UPLOAD, headers={"Origin": "http://app.test",
                                                    "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "x-requested-with"})
        assert "x-requested-with" in preflight.headers["access-control-allow-headers"].lower()


def test_questions_stay_public_reads_whatever_their_origin(bare: TestClient) -> None:
    response = bare.post("/v1/ask", json={"question": "Tổng đàn bò?"}, headers=CROSS_SITE_FORM)
    assert response.status_code == 200


# --- the Host check (DNS rebinding) ----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil",
                                  "evil.example:abc", "[::1", "", "exa mple"])
def test_a_request_for_a_host_this_server_does_not_answer_to_is_400(client: TestClient, host: str) -> None:
    for response in (client.get("/v1/collections", headers={"Host": host}),
                     client.get("/", headers={"Host": host}),
                     client.post(UPLOAD, json=DOC, headers={"Host": host})):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "host_not_allowed" and "VIQA_ALLOWED_HOSTS" in error["message"]


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "LOCALHOST.", "127.0.0.1", "127.0.0.1:1234",
                                  "[::1]", "[::1]:8000"])
def test_loopback_names_are_served_on_any_port(client: TestClient, host: str) -> None:
    assert client.get("/v1/collections", headers={"Host": host}).status_code == 200


def test_allowed_hosts_add_names_to_the_loopback_ones(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(allowed_hosts=["viqa.example.org", "other.example:8443"])) as client:
        def status(host: str) -> int:
            return client.get("/v1/collections", headers={"Host": host}).status_code

        assert status("viqa.example.org") == status("VIQA.example.org:443") == 200
        assert status("other.example:8443") == 200 and status("other.example:80") == 400
        assert status("sub.viqa.example.org") == 400 and status("testserver") == 400
        assert status("localhost:1") == 200
    with running(make_app(allowed_hosts=["*"])) as anything:
        assert anything.get("/v1/collections", headers={"Host": "whatever.example"}).status_code == 200


def test_host_allowed_reads_names_ports_and_brackets() -> None:
    assert host_allowed("[::1]:80", []) and host_allowed("127.0.0.2", [])
    assert not host_allowed(None, []) and not host_allowed("::1", []) and not host_allowed("a:1:2", ["a"])
    assert host_allowed("a.example:99", ["a.example"]) and not host_allowed("a.example", ["a.example:99"])


# --- only trusted proxies name the client ---------------------------------------------------------------------


@pytest.mark.parametrize("header", [{"Forwarded": "for=203.0.113.9"}, {"X-Forwarded-For": "203.0.113.9"},
                                    {"Forwarded": "for=127.0.0.1"}, {"X-Forwarded-For": "127.0.0.1"}])
def test_a_forwarded_request_from_a_peer_not_trusted_as_a_proxy_is_not_local(
    client: TestClient, header: dict[str, str]
) -> None:
    # an unlisted proxy on this machine relays requests from anywhere: whatever it says, the client is not local
    response = client.post(UPLOAD, json=DOC, headers=header)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"


def test_a_remote_client_cannot_claim_to_be_local(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(trusted_proxies=["127.0.0.1"]), client=REMOTE) as client:
        for header in ({"Forwarded": "for=127.0.0.1"}, {"X-Forwarded-For": "127.0.0.1"}):
            assert client.post(UPLOAD, json=DOC, headers=header).status_code == 403


def test_a_trusted_proxy_names_the_client_with_forwarded_or_x_forwarded_for(
    make_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    with running(make_app(trusted_proxies=["127.0.0.1"]), client=LOOPBACK) as client:
        def status(headers: dict[str, str]) -> int:
            return client.post(UPLOAD, json=DOC, headers=headers).status_code

        assert status({"Forwarded": "for=203.0.113.9;proto=http"}) == 403
        assert status({"Forwarded": 'for="[2001:db8:cafe::17]:4711"'}) == 403
        assert status({"X-Forwarded-For": "203.0.113.9"}) == 403
        assert status({"Forwarded": 'for="[::1]:4711"'}) == 202  # a browser on the proxy's machine
        assert status({"X-Forwarded-For": "127.0.0.1"}) == 202
        with caplog.at_level(logging.INFO, logger="viqa.api.access"):
            client.get("/healthz", headers={"Forwarded": "for=198.51.100.4"})
    assert any(getattr(r, "client", None) == "198.51.100.4" for r in caplog.records)


def test_the_chain_is_read_from_the_right_past_trusted_hops_only(make_app: Callable[..., FastAPI]) -> None:
    with running(make_app(trusted_proxies=["127.0.0.1", "10.0.0.0/8"]), client=LOOPBACK) as client:
        def status(headers: dict[str, str]) -> int:
            return client.post(UPLOAD, json=DOC, headers=headers).status_code

        # the client wrote "127.0.0.1" itself; the outer proxy saw 203.0.113.9; the inner one 10.1.2.3
        assert status({"X-Forwarded-For": "127.0.0.1, 203.0.113.9, 10.1.2.3"}) == 403
        assert status({"Forwarded": "for=127.0.0.1, for=203.0.113.9, for=10.1.2.3"}) == 403
        assert status({"X-Forwarded-For": "127.0.0.1, 10.1.2.3"}) == 202
        assert status({"Forwarded": "for=unknown"}) == 403  # RFC 7239's unknown and obfuscated nodes are not local


def test_forwarded_and_x_forwarded_for_that_disagree_are_not_believed(make_app: Callable[..., FastAPI]) -> None:
    # a proxy that sets one header and passes the client's other one through must not make it local
    with running(make_app(trusted_proxies=["127.0.0.1"]), client=LOOPBACK) as client:
        headers = {"Forwarded": "for=127.0.0.1", "X-Forwarded-For": "203.0.113.9"}
        assert client.post(UPLOAD, json=DOC, headers=headers).status_code == 403
        agreeing = {"Forwarded": "for=127.0.0.1", "X-Forwarded-For": "127.0.0.1"}
        assert client.post(UPLOAD, json=DOC, headers=agreeing).status_code == 202


def test_a_trusted_proxy_sets_the_host_and_scheme_that_origins_are_checked_against(
    make_app: Callable[..., FastAPI]
) -> None:
    app = make_app(api_key="k", trusted_proxies=["127.0.0.1"], allowed_hosts=["viqa.example.org"])
    with running(app, client=LOOPBACK, headers={"X-API-Key": "k"}) as client:
        page = {"Origin": "https://viqa.example.org", "Sec-Fetch-Site": "same-origin"}
        proxied = {"Forwarded": "for=203.0.113.9;proto=https;host=viqa.example.org", **page}
        assert client.post(UPLOAD, json=DOC, headers=proxied).status_code == 202
        xff = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "viqa.example.org"}
        assert client.post(UPLOAD, json=DOC, headers={**xff, **page}).status_code == 202
        direct = {**page, "Host": "localhost"}  # not through the proxy: another origin than the page's
        assert client.post(UPLOAD, json=DOC, headers=direct).status_code == 403
        rebound = {"Forwarded": "for=203.0.113.9;host=evil.example"}
        assert client.get("/v1/collections", headers=rebound).status_code == 400


def test_a_bad_trusted_proxies_setting_is_an_error_naming_it(make_app: Callable[..., FastAPI]) -> None:
    with pytest.raises(InputError, match="VIQA_TRUSTED_PROXIES"):
        make_app(trusted_proxies=["not-an-address"])


def test_forwarded_headers_are_parsed_as_rfc_7239_says() -> None:
    elements = forwarded_elements(['for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711"',
                                   'for="_hidden";host="a,b.example"'])
    assert [node_address(e["for"]) for e in elements] == ["192.0.2.60", "2001:db8:cafe::17", "_hidden"]
    assert elements[0]["proto"] == "http" and elements[2]["host"] == "a,b.example"
    assert node_address("192.0.2.1:80") == "192.0.2.1" and node_address("unknown") == "unknown"
