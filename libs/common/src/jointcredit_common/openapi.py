"""Every service's OpenAPI document names the problems (RFC 9457) a client can get, not only FastAPI's 200/422.

The platform answers some refusals the same way on every route — 401/403 from the credential dependencies,
400/413/422 for bodies and parameters, 404 for an unknown id in the path, 429 from the rate limit — so they are
added here from what each route declares; problems only some routes give (409, 415 …) stay in the route's own
``responses=``. FastAPI's 422 entry (``HTTPValidationError``, ``application/json``) is replaced by the problem
document we really send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from jointcredit_common.auth import current_principal
from jointcredit_common.middleware import RATE_LIMIT_EXEMPT_PATHS

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `field` names the offending input (`body.subject.id`, `query.cursor` …)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    400: "Malformed request: the body is not JSON (UTF-8), or a cursor is not one this API returned",
    401: "No credential, or an unknown, expired or revoked one",
    403: "The credential's role or scope does not allow this",
    404: "Nothing with this id (or not visible to this credential)",
    413: "The body is larger than the limit (see docs/limits.md)",
    415: "The body is not of a media type this operation reads",
    422: "The request is well-formed but invalid (schema, checksums, catalog codes, dates …)",
    429: "Too many requests from this credential or address; retry after `Retry-After` seconds",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds until a request will be admitted"}},
}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """An OpenAPI response entry for a problem; use in a route's ``responses=`` for route-specific ones (409 …)."""
    entry: dict[str, Any] = {"description": description or _DESCRIPTIONS.get(status, "Problem"),
                             "content": {"application/problem+json": {"schema": PROBLEM_REF}}}
    if status in _HEADERS:
        entry["headers"] = _HEADERS[status]
    return entry


def iter_api_routes(routes: list[Any]) -> Iterator[Any]:
    """Every API route with its effective path (``path_format``), ``methods``, ``dependant`` and ``body_field``.

    FastAPI ≥ 0.160 keeps included routers lazily (``_IncludedRouter``); ``iter_route_contexts`` flattens them.
    """
    flatten = getattr(routing, "iter_route_contexts", None)
    for route in flatten(routes) if flatten else routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _dependency_calls(dependency)


def _platform_problems(route: Any, operation: dict[str, Any]) -> list[int]:
    calls = list(_dependency_calls(route.dependant))
    has_body = route.body_field is not None or "requestBody" in operation
    parameters = operation.get("parameters", [])
    statuses = []
    if has_body or parameters:
        statuses += [400, 422]
    if any(isinstance(call, HTTPBearer) for call in calls):
        statuses.append(401)
    if current_principal in calls:
        statuses.append(403)
    if any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    if has_body:
        statuses.append(413)  # 415 only where a route checks the media type itself (ingest's JsonWriteRoute)
    if route.path_format not in RATE_LIMIT_EXEMPT_PATHS:
        statuses.append(429)
    return statuses


def document_problems(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """Add the platform's problem responses to an OpenAPI document (in place) and return it."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for route in iter_api_routes(routes):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in _platform_problems(route, operation):
                if str(status) not in responses or status == 422:
                    responses[str(status)] = problem_response(status)
    text = repr(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text and f"#/components/schemas/{unused}" not in repr(components):
            components.pop(unused, None)
    return schema


def install_problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the platform's problem responses."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
