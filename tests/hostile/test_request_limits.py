"""The request-size limit (PlatformMiddleware): 413 problem whether the size is declared or only streamed, on
every service, before anything is stored. (libs/common's shell test covers a declared Content-Length only.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from jointcredit_common.testing.plugin import token_of

pytestmark = pytest.mark.hostile


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A JSON body sent chunked, without Content-Length: the server learns its size only by reading it."""
    yield b'{"grounds": "'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


def assert_too_large(response: Any, limit: int) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 413 and body["field"] == "body" and body["limit_bytes"] == limit


async def test_a_streamed_body_over_the_limit_is_413_on_a_service_that_lets_fastapi_read_the_body(jc_app, jc_credentials):
    from rating_service.main import create_app
    from rating_service.settings import RatingSettings

    department = {"Authorization": f"Bearer {token_of(jc_credentials[1], 'department', 'market_regulation')}",
                  "Content-Type": "application/json"}
    path = "/v1/records/00000000-0000-4000-8000-000000000001/objections"
    async with jc_app("rating", create_app, RatingSettings, max_body_bytes=4096) as (_, client):
        streamed = await client.post(path, content=chunks(64 * 1024), headers=department)
        assert "content-length" not in streamed.request.headers
        assert_too_large(streamed, 4096)
        declared = await client.post(path, content=b'{"grounds": "' + b"x" * 8192 + b'"}', headers=department)
        assert_too_large(declared, 4096)
        # under the limit the same request reaches the route (the record does not exist)
        small = await client.post(path, content=b'{"grounds": "x"}', headers=department)
        assert small.status_code == 404, small.text


async def test_a_streamed_batch_over_the_batch_limit_is_413_and_stores_nothing(jc_app, jc_credentials):
    from ingest_service.main import create_app
    from ingest_service.settings import IngestSettings

    department = {"Authorization": f"Bearer {token_of(jc_credentials[1], 'department', 'market_regulation')}",
                  "Content-Type": "application/x-ndjson"}
    admin = {"Authorization": f"Bearer {token_of(jc_credentials[1], 'admin')}"}

    async def ndjson(lines: int) -> AsyncIterator[bytes]:
        for _ in range(lines):
            yield b'{"behavior": "W1", "description": "' + b"x" * 1000 + b'"}\n'

    async with jc_app("ingest", create_app, IngestSettings, max_batch_body_bytes=64 * 1024) as (_, client):
        response = await client.post("/v1/reports:batch", content=ndjson(200), headers=department)
        assert_too_large(response, 64 * 1024)
        assert (await client.get("/v1/reports", headers=admin)).json()["items"] == []


async def test_only_the_route_that_declares_a_larger_limit_gets_it(jc_app):
    """A path merely ending in ``:batch`` — on rating, or an unknown one on ingest — gets the ordinary limit,
    unauthenticated, before its body is read (the batch allowance is ingest's declaration for its own route)."""
    from ingest_service.main import create_app as create_ingest
    from ingest_service.settings import IngestSettings
    from rating_service.main import create_app as create_rating
    from rating_service.settings import RatingSettings

    async with jc_app("rating", create_rating, RatingSettings, max_body_bytes=4096) as (_, client):
        assert_too_large(await client.post("/v1/anything:batch", content=chunks(64 * 1024)), 4096)
    async with jc_app("ingest", create_ingest, IngestSettings, max_body_bytes=4096) as (_, client):
        assert_too_large(await client.post("/v1/commitments:batch", content=chunks(64 * 1024)), 4096)
        # the declared route keeps its own, larger limit: this body passes the size check and fails authentication
        assert (await client.post("/v1/reports:batch", content=chunks(64 * 1024))).status_code == 401
