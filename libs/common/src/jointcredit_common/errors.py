"""RFC 9457 problem details: one small error hierarchy, mapped to HTTP in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jointcredit_common.db import database_unavailable
from jointcredit_common.logging import get_logger

PROBLEM_BASE = "https://jointcredit.example/problems/"
log = get_logger(__name__)


class Problem(Exception):
    """A failure the client can understand. ``field`` names the offending input (JSON-pointer-ish path)."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field = field
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status, title, slug = 400, "Bad request", "bad-request"


class MalformedBody(Problem):
    status, title, slug = 400, "Malformed request body", "malformed-body"


class Unauthorized(Problem):
    status, title, slug = 401, "Authentication required", "unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(Problem):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(Problem):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(Problem):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class ValidationFailed(Problem):
    status, title, slug = 422, "Validation failed", "validation-failed"


class RateLimited(Problem):
    status, title, slug = 429, "Too many requests", "rate-limited"


class ServiceUnavailable(Problem):
    status, title, slug = 503, "Service unavailable", "service-unavailable"


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.to_dict(instance=str(request.url.path) if request else None),
        status_code=problem.status,
        headers=problem.headers,
        media_type="application/problem+json",
    )


def _field_path(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def validation_problem(exc: RequestValidationError) -> Problem:
    details = exc.errors()
    if details and all(err.get("type", "").startswith("uuid_") and tuple(err.get("loc", ()))[:1] == ("path",) for err in details):
        # One rule for every service's ids in paths (typed uuid.UUID): an id that is not a UUID names nothing — 404,
        # the same answer as a well-formed id of nothing, so a malformed one tells a caller no more.
        first = details[0]
        return NotFound(f"nothing has the id {first.get('input')!r}", field=_field_path(first.get("loc", ())))
    errors = []
    for err in details:
        if err.get("type") == "json_invalid":
            return MalformedBody(f"the body is not valid JSON: {err.get('ctx', {}).get('error', err.get('msg'))}", field="body")
        errors.append({"field": _field_path(err.get("loc", ())), "message": err.get("msg"), "type": err.get("type")})
    first = errors[0]["field"] if errors else None
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ValidationFailed(detail, field=first, errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(validation_problem(exc), request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(str(exc.detail), headers=getattr(exc, "headers", None))
        problem.status, problem.title = exc.status_code, _reason(exc.status_code)
        problem.slug = problem.title.lower().replace(" ", "-")
        return problem_response(problem, request)

    app.add_middleware(DatabaseUnavailableMiddleware)  # a lost database: 503, not the 500 below (tests/faults)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        problem = Problem("an internal error occurred; it has been logged")
        problem.status, problem.title, problem.slug = 500, "Internal server error", "internal-error"
        return problem_response(problem, request)


class DatabaseUnavailableMiddleware:
    """A database restart or failover is not a bug: 503 and ``Retry-After``, and the client retries (with its
    Idempotency-Key, if any) — whatever raised it, also wrapped (``__cause__``), e.g. by a shared transaction.

    Between Starlette's outer error middleware and the exception handlers, so it sees every exception no handler
    took. Not a handler for ``Exception``: that one re-raises to the server after answering, and uvicorn then
    closes the keep-alive connection — the client's next request on it would fail as well."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started or not database_unavailable(exc):
                raise  # a bug: the catch-all handler logs it and answers 500
            log.warning("database_unavailable", path=scope["path"], error=type(exc).__name__)
            problem = ServiceUnavailable("the database is unavailable; retry shortly", headers={"Retry-After": "2"})
            await problem_response(problem, Request(scope))(scope, receive, send)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
