"""ASGI middleware: a request id and one structured log line per request, the client named by trusted proxies
only, the Host check, request-body size limits, and OPTIONS and 405s that say which methods a path allows."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viqa.api.errors import ApiError, error_response
from viqa.net import Network, forwarded_elements, host_allowed, in_networks, node_address

log = logging.getLogger("viqa.api.access")

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DIGITS = re.compile(r"^[0-9]{1,15}$")


class RequestContextMiddleware:
    """Reuses a sane incoming ``X-Request-ID`` (else makes one), echoes it, and logs method, path, status, time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            client = scope.get("client")
            fields = {
                "request_id": request_id,
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed, 2),
                "client": client[0] if client else None,
            }
            log.info(
                "request_id=%s method=%s path=%s status=%d duration_ms=%.2f client=%s",
                *fields.values(),
                extra=fields,
            )


class BodyLimitMiddleware:
    """413 for bodies over ``limit_for(method, path)`` bytes: at once from Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str, str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        length = Headers(scope=scope).get("content-length")
        response = None
        if length is not None and not _DIGITS.match(length):
            response = error_response(400, "invalid_input", "bad Content-Length header")
        elif length is not None and int(length) > limit:
            response = error_response(413, "payload_too_large", f"the request body is over the {limit} byte limit")
        if response is not None:
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError(413, "payload_too_large", f"the request body is over the {limit} byte limit")
            return message

        await self.app(scope, limited_receive, send)


VIA_UNTRUSTED_PROXY = "via_untrusted_proxy"  # request.state flag: forwarding headers from a peer not trusted


class ProxyHeadersMiddleware:
    """Names the client from ``Forwarded`` (RFC 7239) or ``X-Forwarded-For`` only when the peer is in ``trusted``,
    walking the chain right to left past trusted hops; the nearest hop's proto and host then set the scheme and
    the Host. From any other peer the headers are ignored and the request is flagged
    (``request.state.via_untrusted_proxy``) so that it never counts as loopback; so is a request whose
    ``Forwarded`` and ``X-Forwarded-*`` disagree (a proxy that sets one and passes the client's other through).
    """

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.resolve(scope)
        await self.app(scope, receive, send)

    def _client(self, peer: str, hops: list[str]) -> str:
        client = peer
        for hop in reversed(hops):
            client = hop
            if not in_networks(hop, self.trusted):
                break
        return client

    def resolve(self, scope: Scope) -> None:
        headers = Headers(scope=scope)
        forwarded, xff = headers.getlist("forwarded"), headers.getlist("x-forwarded-for")
        if not forwarded and not xff:
            return
        peer = scope.get("client")
        views = []  # (client, proto, host) by each family of headers
        if peer is not None and in_networks(peer[0], self.trusted):
            if forwarded:
                elements = forwarded_elements(forwarded)
                nearest = elements[-1] if elements else {}
                hops = [node_address(e.get("for", "unknown")) for e in elements]
                views.append((self._client(peer[0], hops), nearest.get("proto"), nearest.get("host")))
            if xff:
                hops = [node_address(h) for h in ",".join(xff).split(",") if h.strip()]
                views.append((self._client(peer[0], hops), _last(headers.getlist("x-forwarded-proto")),
                              _last(headers.getlist("x-forwarded-host"))))
        if not views or len(set(views)) > 1:
            scope.setdefault("state", {})[VIA_UNTRUSTED_PROXY] = True
            return
        client, proto, host = views[0]
        scope["client"] = (client, 0)
        if proto and proto.lower() in ("http", "https"):
            scope["scheme"] = proto.lower()
        if host:
            kept = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope["headers"] = [*kept, (b"host", host.encode("latin-1"))]


def _last(values: list[str]) -> str | None:
    """The rightmost of comma-separated header values (the one the nearest proxy added)."""
    items = [v.strip() for v in ",".join(values).split(",") if v.strip()]
    return items[-1] if items else None


class HostCheckMiddleware:
    """400 ``host_not_allowed`` unless Host is a loopback name (any port) or in ``allowed``: no DNS rebinding."""

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = list(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host")
            if not host_allowed(host, self.allowed):
                shown = (host or "")[:100]
                response = error_response(400, "host_not_allowed", f"this server does not answer to Host {shown!r};"
                                          " add the name to VIQA_ALLOWED_HOSTS")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods some route answers at the scope's path (OPTIONS among them), sorted; [] if no route matches."""
    routes = list(routes)
    allowed = set()
    for method in _METHODS:
        probe = {**scope, "method": method}
        for route in routes:
            if route.matches(probe)[0] is Match.FULL:
                allowed |= {"GET", "HEAD"} if isinstance(route, Mount) else {method}  # a mount: static files
                break
    return sorted(allowed | {"OPTIONS"}) if allowed else []


class MethodsMiddleware:
    """``OPTIONS`` on a routed path is a 204 whose ``Allow`` lists its methods (404 elsewhere), and every 405
    carries the same ``Allow``: all the methods of the path, not only those of the first route that matched."""

    def __init__(self, app: ASGIApp, routes: Callable[[], Iterable[BaseRoute]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            methods = allowed_methods(self.routes(), scope)
            if methods:
                allow = ", ".join(methods)
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return

        as_received = dict(scope)  # routing rewrites root_path and the like in the scope it is given

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = allowed_methods(self.routes(), as_received)
                if methods:
                    MutableHeaders(scope=message)["Allow"] = ", ".join(methods)
            await send(message)

        await self.app(scope, receive, send_with_allow)
