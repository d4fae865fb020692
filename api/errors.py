"""Every error the API returns has one shape, ``{"error": {"code", "message"}}``; bad input is never a 500."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from viqa.errors import InputError, NotFoundError, QuestionTooLongError, ReaderError, StoreUnavailableError, ViqaError

log = logging.getLogger("viqa.api")

_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "not_ready",
    507: "insufficient_storage",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. invalid_input, not_found, unauthorized.")
    message: str = Field(description="What went wrong, for people.")


class ErrorOut(BaseModel):
    """The body of every 4xx/5xx response."""

    error: ErrorDetail

    model_config = {
        "json_schema_extra": {
            "examples": [{"error": {"code": "not_found", "message": "collection 'x' has no index yet"}}]
        }
    }


class ApiError(StarletteHTTPException):
    """An HTTP error with an explicit code (``ApiError(401, "unauthorized", "...")``)."""

    def __init__(self, status_code: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.code = code


ERROR_RESPONSES: dict[int | str, dict] = {
    status: {"model": ErrorOut, "description": HTTPStatus(status).phrase}
    for status in (400, 401, 403, 404, 413, 422, 503)
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


async def _on_viqa_error(request: Request, exc: Exception) -> JSONResponse:
    """The error's public message (never a filesystem path), with the status its kind says."""
    assert isinstance(exc, ViqaError)
    if isinstance(exc, NotFoundError):
        return error_response(404, "not_found", exc.public)
    if isinstance(exc, QuestionTooLongError):
        return error_response(422, "question_too_long", exc.public)
    if isinstance(exc, ReaderError):
        log.warning("the reader failed: %s", exc, exc_info=exc.__cause__)
        return error_response(422, "reader_error", exc.public)
    if isinstance(exc, StoreUnavailableError):
        log.error("%s", exc)
        return error_response(503, "store_unavailable", exc.public, headers={"Retry-After": "5"})
    if getattr(exc, "needed_bytes", None) is not None:  # the store's StorageError: the disk, not the input
        log.error("%s", exc)
        return error_response(507, "insufficient_storage", exc.public)
    code = "invalid_input" if isinstance(exc, InputError) else "viqa_error"
    return error_response(400, code, exc.public)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "validation_error", _validation_message(exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    """Map ViqaError, validation and HTTP errors (and anything unexpected) to the one error shape."""
    app.add_exception_handler(ViqaError, _on_viqa_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
