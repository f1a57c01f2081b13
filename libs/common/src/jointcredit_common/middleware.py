"""Pure-ASGI middleware: trace context, body-size limit, request metrics (cheap on the hot path)."""

from __future__ import annotations

import time

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jointcredit_common import metrics
from jointcredit_common.errors import PayloadTooLarge
from jointcredit_common.settings import ServiceSettings
from jointcredit_common.tracing import continue_trace, current_traceparent


class PlatformMiddleware:
    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings
        self.service = settings.service_name

    def _limit_for(self, path: str) -> int:
        return self.settings.max_batch_body_bytes if path.endswith(":batch") else self.settings.max_body_bytes

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
            declared = headers.get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                await _send_problem(send_wrapper, PayloadTooLarge(f"the body exceeds {limit} bytes", field="body", limit_bytes=limit))
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge
                return message

            try:
                await self.app(scope, limited_receive, send_wrapper)
            except _BodyTooLarge:
                await _send_problem(send_wrapper, PayloadTooLarge(f"the body exceeds {limit} bytes", field="body", limit_bytes=limit))
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(self.service, scope["method"], route_path, str(status_holder["status"])).inc()
            metrics.HTTP_LATENCY.labels(self.service, scope["method"], route_path).observe(elapsed)
            structlog.contextvars.unbind_contextvars("path")
            current_traceparent.reset(token)


class _BodyTooLarge(Exception):
    pass


async def _send_problem(send: Send, problem: PayloadTooLarge) -> None:
    body = orjson.dumps(problem.to_dict())
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
