"""Dependency aliases for the routes: the loaded pipeline, the settings, the job registry, read/write access."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from viqa.api.errors import ApiError
from viqa.api.jobs import IndexOps, JobRegistry
from viqa.api.serial import SerialPipeline
from viqa.api.state import ServiceState
from viqa.api.uploads import encoded
from viqa.index.store import validate_name
from viqa.net import is_loopback
from viqa.qa.retrieval import validate_query
from viqa.settings import Settings


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_settings(state: StateDep) -> Settings:
    return state.settings


def get_pipeline(state: StateDep) -> SerialPipeline:
    """The loaded pipeline; 503 (with Retry-After) while the models are still loading or failed to load."""
    if state.pipeline is not None:
        return state.pipeline
    if state.load_error is not None:
        raise ApiError(503, "not_ready", state.load_error)
    raise ApiError(503, "not_ready", "the models are still loading; try again shortly", {"Retry-After": "5"})


def get_jobs(state: StateDep) -> JobRegistry:
    return state.jobs


def get_index_ops(state: StateDep) -> IndexOps:
    return state.index_ops


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated[SerialPipeline, Depends(get_pipeline)]
JobsDep = Annotated[JobRegistry, Depends(get_jobs)]
IndexOpsDep = Annotated[IndexOps, Depends(get_index_ops)]


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def check_access(request: Request, api: Settings) -> None:
    """With a key configured, it must be presented (401 if absent, 403 if wrong); without one, loopback only."""
    if api.api_key:
        presented = _presented_key(request)
        if presented is None:
            raise ApiError(401, "unauthorized", "send the API key as 'Authorization: Bearer <key>' or 'X-API-Key'",
                           {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(presented.encode(), api.api_key.encode()):
            raise ApiError(403, "forbidden", "the API key is not valid")
        return
    if not is_loopback(request.client.host if request.client else None):
        raise ApiError(403, "forbidden", "without VIQA_API_KEY set, this is only allowed from the server's own machine")


def require_writer(request: Request, api: SettingsDep) -> None:
    """Writes (uploads, deletes) always need access."""
    check_access(request, api)


def require_reader(request: Request, api: SettingsDep) -> None:
    """Reads (questions, listings) are open unless VIQA_PUBLIC_READS=false."""
    if not api.public_reads:
        check_access(request, api)


WriteAuth = Annotated[None, Depends(require_writer)]
ReadAuth = Annotated[None, Depends(require_reader)]


def checked_question(text: str, max_chars: int) -> str:
    """The stripped question; InputError (400) if it is empty, has no words or is over the length limit."""
    encoded(text, "the question")
    return validate_query(text, max_chars)


def checked_count(count: int | None, limit: int, field: str) -> int | None:
    """``count`` if it is at most ``limit`` (the settings' ``max_top_k``); a 422 naming the field otherwise."""
    if count is not None and count > limit:
        raise ApiError(422, "validation_error", f"{field}: {count} is over the limit of {limit}")
    return count


def checked_collection(name: str | None) -> str | None:
    """A valid collection name (or None for the default); InputError for anything path-like."""
    return None if name is None else validate_name(name)
