"""ASGI middleware: a request id and one structured log line per request, and request-body size limits."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viqa.api.errors import ApiError, error_response

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
