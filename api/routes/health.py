"""Liveness (the process is up) and readiness (the models are loaded)."""

from __future__ import annotations

from fastapi import APIRouter

from viqa.api.deps import StateDep
from viqa.api.errors import ERROR_RESPONSES, ApiError
from viqa.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """200 as soon as the process serves requests, models loaded or not."""
    return HealthOut(status="ok")


@router.get("/readyz", response_model=HealthOut, responses={503: ERROR_RESPONSES[503]})
def readyz(state: StateDep) -> HealthOut:
    """200 once the models are loaded; 503 while they load (or if loading failed)."""
    if state.pipeline is not None:
        return HealthOut(status="ready")
    if state.load_error is not None:
        raise ApiError(503, "not_ready", state.load_error)
    raise ApiError(503, "not_ready", "the models are still loading", {"Retry-After": "5"})
