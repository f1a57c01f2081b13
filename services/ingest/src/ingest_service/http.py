"""The order in which a JSON write request is refused: 401 (who are you) → 415 (not JSON) → 400 (malformed JSON) →
then FastAPI's dependencies (403 role/scope) and body validation (422).

FastAPI parses a JSON body before it runs any dependency, so without this an anonymous client would learn about
our validation before being asked for a credential, and a body that is not UTF-8 would get a bare 400 without a
``field``. ``JsonWriteRoute`` runs these checks first for every route that declares a request body.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer

from jointcredit_common.auth import current_principal
from jointcredit_common.errors import MalformedBody, UnsupportedMediaType
from jointcredit_common.openapi import problem_response

_bearer = HTTPBearer(auto_error=False)


def is_json_media(media: str) -> bool:
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonWriteRoute(APIRoute):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.body_field is not None or (self.openapi_extra or {}).get("requestBody"):
            self.responses.setdefault(415, problem_response(415, "The body is not JSON (Content-Type)"))

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            await current_principal(request, await _bearer(request))
            body = await request.body()  # cached on the request: FastAPI's own parsing reuses it
            if body:
                media = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if not is_json_media(media):
                    raise UnsupportedMediaType(f"Content-Type must be application/json, not {media or 'missing'}",
                                               field="header.Content-Type")
                try:
                    # Starlette's Request.json() cache: FastAPI's body parsing then reuses this, not json.loads again
                    request._json = orjson.loads(body)
                except orjson.JSONDecodeError as exc:
                    raise MalformedBody(f"the body is not valid JSON (UTF-8): {exc}", field="body") from None
            return await handler(request)

        return checked
