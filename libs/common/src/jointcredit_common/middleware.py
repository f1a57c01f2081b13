"""Pure-ASGI middleware: trace context, body-size limit, request metrics, rate limits (cheap on the hot path)."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jointcredit_common import metrics
from jointcredit_common.errors import PayloadTooLarge, Problem, RateLimited, ValidationFailed
from jointcredit_common.settings import ServiceSettings
from jointcredit_common.tracing import continue_trace, current_traceparent


class PlatformMiddleware:
    """``body_limits``: exact paths a service allows larger bodies on (e.g. ingest's batch route); every other path,
    on every service, gets ``max_body_bytes`` — enforced before the body is read and before authentication."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings, body_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.settings = settings
        self.service = settings.service_name
        self.body_limits = dict(body_limits or {})

    def _limit_for(self, path: str) -> int:
        return self.body_limits.get(path, self.settings.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        traceparent = continue_trace(headers.get(b"traceparent", b"").decode("latin-1") or None)
        token = current_traceparent.set(traceparent)
        structlog.contextvars.bind_contextvars(path=scope["path"])
        limit = self._limit_for(scope["path"])
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"traceparent", traceparent.encode())]
            await send(message)

        try:
            if nul_field := _field_with_nul(scope):
                await _send_problem(send_wrapper, ValidationFailed(
                    f"{nul_field} contains the NUL character (\\u0000), which no input accepts", field=nul_field))
                return
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _send_problem(send_wrapper, _too_large(limit))
                return
            if (declared is not None and declared != b"0") or b"transfer-encoding" in headers:
                # Read the body here, within the limit, then hand it on: a size only known by streaming it is
                # refused as 413 before any route sees it (FastAPI would turn an error raised while it reads the
                # body into a 400), and a JSON NUL escape is refused before it reaches the database.
                body = await _read_body(receive, limit)
                if body is None:
                    await _send_problem(send_wrapper, _too_large(limit))
                    return
                if _has_json_nul(body):
                    await _send_problem(send_wrapper, ValidationFailed(
                        "a text value in the body contains the NUL character (\\u0000), which no input accepts", field="body"))
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], route_path, str(status_holder["status"])).inc()
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], route_path).observe(elapsed)
            structlog.contextvars.unbind_contextvars("path")
            current_traceparent.reset(token)


def _field_with_nul(scope: Scope) -> str | None:
    """Where a NUL character arrives outside the body (PostgreSQL text cannot hold it), or None. NUL in a JSON
    body is caught where the database refuses it (errors.py), since finding it here would mean parsing twice."""
    if "\x00" in scope["path"]:
        return "path"
    query: bytes = scope.get("query_string") or b""
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
            if "\x00" in name or "\x00" in value:
                return f"query.{name.replace(chr(0), '')}"
    for name, value in scope.get("headers") or ():
        if b"\x00" in value:
            return f"header.{name.decode('latin-1').title()}"
    return None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"the body exceeds {limit} bytes", field="body", limit_bytes=limit)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it exceeds ``limit`` bytes."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: the route sees what came
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands over the body read already, then waits on the client (e.g. for a disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _has_json_nul(body: bytes) -> bool:
    """Whether the body holds the JSON escape \\u0000 (a NUL in a string; an escaped backslash before it doesn't
    count). Raw NUL bytes need no check: JSON forbids them in strings, so the body is refused as malformed."""
    at = body.find(b"\\u0000")
    while at != -1:
        start = at
        while start > 0 and body[start - 1] == 0x5C:  # backslashes before this one
            start -= 1
        if (at - start) % 2 == 0:
            return True
        at = body.find(b"\\u0000", at + 1)
    return False


async def _send_problem(send: Send, problem: Problem) -> None:
    body = orjson.dumps(problem.to_dict())
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (problem.headers or {}).items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- rate limits -----------------------------------------------------------------------------------------------

RATE_LIMIT_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes must never be refused


clock = time.monotonic  # the rate limits' clock; tests replace it to stay independent of the machine's speed


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` saved up. Process memory only.

    A bucket that has refilled is the same as no bucket, so when there are more than ``max_keys`` keys the full
    ones are dropped; if every one is still in use (a flood of distinct keys) all are dropped — the limit fails
    open rather than letting memory grow without bound.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, when counted)

    def _tokens(self, key: str, now: float) -> float:
        tokens, at = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def take(self, key: str, now: float) -> float:
        """Take a token: 0.0 when granted, otherwise the seconds until one will be there (nothing is taken)."""
        tokens = self._tokens(key, now)
        if tokens >= 1.0:
            if key not in self._buckets and len(self._buckets) >= self.max_keys:
                self._prune(now)
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        return (1.0 - tokens) / self.rate

    def refund(self, key: str, now: float) -> None:
        """Give back a token taken for a request that turned out to be entitled to another bucket."""
        if key in self._buckets:
            self._buckets[key] = (min(self.burst, self._tokens(key, now) + 1.0), now)

    def wait(self, key: str, now: float) -> float:
        """Like :meth:`take`, without taking: 0.0 if a token is there."""
        tokens = self._tokens(key, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if v[0] + (now - v[1]) * self.rate < self.burst}
        if len(self._buckets) >= self.max_keys:
            self._buckets.clear()


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() or None) if scheme.lower() == "bearer" else None
    return None


class RateLimitMiddleware:
    """Per-credential and per-address request limits; over a limit → 429 problem with ``Retry-After``.

    Keyed without any database lookup: a request without a bearer token, or with one this replica has not yet seen
    authenticate, pays from its client address's bucket (the anonymous limit); a token that authenticated here pays
    from its own bucket (the credential limit). "Authenticated" means the route's auth dependency verified it
    (``request.state.principal``), not merely that the answer was not a 401: a public route answers 200 whatever
    token comes with it, so a made-up token must not buy a bucket of its own there (security review H3). When a
    request proves its credential, the address's token is given back.
    Limits hold per replica: a cluster admits replicas × the limit; the global limit belongs to the gateway.
    """

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.service = settings.service_name
        self.principals = (
            TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
            if settings.rate_limit_per_second > 0 else None
        )
        self.addresses = (
            TokenBuckets(settings.anonymous_rate_limit_per_second, settings.anonymous_rate_limit_burst)
            if settings.anonymous_rate_limit_per_second > 0 else None
        )
        self._authenticated: dict[str, None] = {}  # token digests that got an answer other than 401 here

    def _check(self, digest: str | None, address: str, now: float) -> tuple[float, str, TokenBuckets | None]:
        proven = digest is not None and digest in self._authenticated
        if not proven and self.addresses and (wait := self.addresses.take(address, now)):
            return wait, ("anonymous" if digest is None else "unproven_credential"), self.addresses
        if digest is not None and self.principals and (wait := self.principals.take(digest, now)):
            return wait, "credential", self.principals
        return 0.0, "credential", None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in RATE_LIMIT_EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        token = _bearer_token(scope)
        digest = hashlib.sha256(token.encode()).hexdigest() if token else None
        address = (scope.get("client") or ("unknown",))[0]
        now = clock()
        wait, kind, buckets = self._check(digest, address, now)
        if wait:
            assert buckets is not None  # only a bucket makes anyone wait
            metrics.RATE_LIMITED.labels(self.service, kind).inc()
            retry_after = max(1, math.ceil(wait))
            whose = "this client address" if buckets is self.addresses else "this credential"
            await _send_problem(send, RateLimited(
                f"more than {buckets.rate:g} requests a second (bursts of {buckets.burst:g}) from {whose}; retry after "
                f"{retry_after} s", headers={"Retry-After": str(retry_after)},
                limit_per_second=buckets.rate, burst=int(buckets.burst), retry_after_seconds=retry_after,
            ))
            return
        if digest is None or self.addresses is None or digest in self._authenticated:
            await self.app(scope, receive, send)
            return

        async def watch_status(message: Message) -> None:
            if message["type"] == "http.response.start" and (scope.get("state") or {}).get("principal") is not None:
                # the auth dependency verified this token: from now on it pays from its own bucket
                if len(self._authenticated) >= 10_000:
                    self._authenticated.clear()
                self._authenticated[digest] = None
                if self.addresses:
                    self.addresses.refund(address, clock())
            await send(message)

        await self.app(scope, receive, watch_status)
