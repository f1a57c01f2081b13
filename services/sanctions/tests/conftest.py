"""Fixtures of the sanctions tests: the service in-process on the real database and broker."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from sanctions_service.main import create_app
from sanctions_service.settings import SanctionsSettings
from sanctions_support import SanctionsUnderTest


@pytest.fixture
def sanctions(jc_app, jc_credentials):
    """``async with sanctions(**settings_overrides) as h:`` — the service running in-process."""

    @contextlib.asynccontextmanager
    async def open_harness(**overrides: Any):
        overrides.setdefault("webhook_poll_seconds", 0.2)
        async with jc_app("sanctions", create_app, SanctionsSettings, **overrides) as (app, client):
            yield SanctionsUnderTest(app, client, jc_credentials[1])

    return open_harness
