"""Dependency aliases for the routes: the loaded pipeline, the settings, the job registry, read/write access."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from viqa.api.errors import ApiError
from viqa.api.jobs import IndexOps, JobRegistry
from viqa.api.middleware import VIA_UNTRUSTED_PROXY
from viqa.api.schemas import SETTING
from viqa.api.serial import SerialPipeline
from viqa.api.state import ServiceState
from viqa.api.uploads import encoded
from viqa.index.store import validate_name
from viqa.net import is_loopback, split_host
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


_ASK_FOR_KEY = "send the API key as 'Authorization: Bearer <key>' or 'X-API-Key'"


def _presented_keys(request: Request) -> list[str]:
    """Every key the request presents; 401 for an Authorization header that is not ``Bearer <key>``."""
    keys = []
    auth = request.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", _ASK_FOR_KEY, {"WWW-Authenticate": "Bearer"})
        keys.append(token.strip())
    if "x-api-key" in request.headers:
        keys.append(request.headers["x-api-key"].strip())
    return keys


CSRF_HEADER = "X-Requested-With"  # a header no cross-site form can send, nor a script without a CORS preflight


def is_local_client(request: Request) -> bool:
    """A loopback client, not one that a proxy outside VIQA_TRUSTED_PROXIES says it forwarded."""
    if getattr(request.state, VIA_UNTRUSTED_PROXY, False):
        return False
    return is_loopback(request.client.host if request.client else None)


def check_access(request: Request, api: Settings) -> None:
    """With a key configured, it must be presented (401 if absent), and every key presented must be it (403);
    without one, loopback only."""
    if api.api_key:
        presented = _presented_keys(request)
        if not presented:
            raise ApiError(401, "unauthorized", _ASK_FOR_KEY, {"WWW-Authenticate": "Bearer"})
        if not all(hmac.compare_digest(key.encode(), api.api_key.encode()) for key in presented):
            raise ApiError(403, "forbidden", "the API key is not valid")
        return
    if not is_local_client(request):
        raise ApiError(403, "forbidden", "without VIQA_API_KEY set, this is only allowed from the server's own machine")


def _same_origin(origin: str, request: Request) -> bool:
    """Whether ``origin`` (an Origin header) is the scheme, host and port the request was sent to."""
    parts = urlsplit(origin.strip())
    try:
        origin_port = parts.port
    except ValueError:
        return False
    target = split_host(request.headers.get("host", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname or target is None:
        return False
    defaults = {"http": 80, "https": 443}
    scheme = request.url.scheme
    return (parts.scheme, parts.hostname.lower().rstrip("."), origin_port or defaults[parts.scheme]) == (
        scheme, target[0], target[1] or defaults.get(scheme))


def check_same_origin(request: Request, api: Settings) -> None:
    """403 ``cross_site`` for a write that a browser says another site sent: an ``Origin`` that is neither this
    server nor in VIQA_CORS_ORIGINS, or ``Sec-Fetch-Site`` other than same-origin or none (typed by the user)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.strip() in api.cors_origins:
        return
    if origin is not None and not _same_origin(origin, request):
        raise ApiError(403, "cross_site", f"a write from another site (Origin {origin[:100]!r}) is refused; the"
                       " origin must be this server's, or listed in VIQA_CORS_ORIGINS")
    fetch_site = request.headers.get("sec-fetch-site", "").strip().lower()
    if fetch_site and fetch_site not in ("same-origin", "none"):
        raise ApiError(403, "cross_site", f"a write from another site (Sec-Fetch-Site: {fetch_site[:20]}) is refused")


def proves_same_origin(request: Request) -> bool:
    """``X-Requested-With`` (which no cross-site form can send, nor a page's script without a CORS preflight), or
    what only a browser sets and no page can forge: ``Sec-Fetch-Site: same-origin``, an ``Origin`` of this server."""
    if request.headers.get(CSRF_HEADER, "").strip():
        return True
    if request.headers.get("sec-fetch-site", "").strip().lower() == "same-origin":
        return True
    origin = request.headers.get("origin")
    return origin is not None and _same_origin(origin, request)


def require_writer(request: Request, api: SettingsDep) -> None:
    """Writes (uploads, deletes): never cross-site; then the key, or, with none configured, a loopback client
    that proves the same origin (``proves_same_origin``: curl and scripts send ``X-Requested-With: viqa``)."""
    check_same_origin(request, api)
    check_access(request, api)
    if not api.api_key and not proves_same_origin(request):
        raise ApiError(403, "csrf", f"without the API key, a write must carry the header '{CSRF_HEADER}: viqa'"
                       " (a cross-site form cannot send it)")


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


KEY_SCHEMES: dict[str, dict[str, Any]] = {
    "HTTPBearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <VIQA_API_KEY>."},
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The VIQA_API_KEY."},
}


def _api_routes(routes: Iterable[Any]) -> Iterator[tuple[str, APIRoute]]:
    """(path, route) of every APIRoute, those of included routers too (FastAPI ≥ 0.160 nests them)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        yield from ((r.path_format, r) for r in routes if isinstance(r, APIRoute))
        return
    for context in iter_route_contexts(list(routes)):
        if isinstance(context.original_route, APIRoute):
            yield context.path_format or context.original_route.path_format, context.original_route


def _depends_on(dependant: Dependant, call: object) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)


def declare_key_scheme(schema: dict[str, Any], routes: Iterable[object], api: Settings) -> dict[str, Any]:
    """``schema`` (an OpenAPI document) with the key's schemes, required (either one) by the operations that
    enforce it: writes when a key is configured, and reads too when VIQA_PUBLIC_READS=false."""
    schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(KEY_SCHEMES)
    if not api.api_key:
        return schema
    requirement = [{name: []} for name in KEY_SCHEMES]
    for path, route in _api_routes(routes):
        if not route.include_in_schema:
            continue
        keyed = _depends_on(route.dependant, require_writer) or (
            not api.public_reads and _depends_on(route.dependant, require_reader))
        operations = schema.get("paths", {}).get(path, {})
        for method in route.methods if keyed else ():
            if method.lower() in operations:
                operations[method.lower()]["security"] = requirement
    return schema


def publish_limits(schema: Any, api: Settings) -> Any:
    """``schema`` with every ``{"x-viqa-setting": {"maximum": "max_top_k"}}`` mark replaced by the setting's
    value (``{"maximum": 50}``): the published bounds are those the routes check."""
    if isinstance(schema, dict):
        for keyword, field in schema.pop(SETTING, {}).items():
            schema[keyword] = getattr(api, field)
        for value in schema.values():
            publish_limits(value, api)
    elif isinstance(schema, list):
        for value in schema:
            publish_limits(value, api)
    return schema
