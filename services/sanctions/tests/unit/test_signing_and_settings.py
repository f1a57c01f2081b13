"""Webhook signatures, backoff bounds, the README's verification snippet, and production guards."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from sanctions_service.settings import SanctionsSettings
from sanctions_service.webhooks.dispatcher import backoff_seconds, sign, verify

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier():
    code = re.search(r"```python\n(import hashlib.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_jointcredit_signature"]


def test_the_readme_snippet_verifies_what_the_sender_signs_and_rejects_tampering():
    verify_snippet = readme_verifier()
    body = b'{"id":"e1","data":{"measure":"P2"}}'
    header = sign("s3cret-s3cret-s3cret", int(time.time()), body)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify_snippet("s3cret-s3cret-s3cret", header, body)
    assert verify("s3cret-s3cret-s3cret", header, body)
    assert not verify_snippet("s3cret-s3cret-s3cret", header, body.replace(b"P2", b"P3"))
    assert not verify_snippet("another-secret-123", header, body)
    stale = sign("s3cret-s3cret-s3cret", int(time.time()) - 3600, body)
    assert not verify_snippet("s3cret-s3cret-s3cret", stale, body) and not verify("s3cret-s3cret-s3cret", stale, body)
    assert not verify_snippet("s3cret-s3cret-s3cret", "garbage", body)


def test_backoff_is_exponential_with_jitter_and_capped():
    for attempt in range(1, 30):
        step = min(3600, 10 * 2 ** (attempt - 1))
        values = [backoff_seconds(attempt, base=10, cap=3600) for _ in range(50)]
        assert all(step / 2 <= v <= step for v in values)
    assert len({round(backoff_seconds(3, base=10, cap=3600), 6) for _ in range(20)}) > 1  # jittered


def test_the_default_retry_schedule_keeps_trying_for_at_least_24_hours():
    settings = SanctionsSettings(database_url="postgresql+asyncpg://x/y")
    assert settings.webhook_retry_window_hours >= 24
    # even with the shortest jitter, attempts keep coming at least hourly until the window closes
    assert settings.webhook_backoff_max_seconds <= 3600


def test_production_refuses_short_retry_windows_and_unsigned_webhooks(monkeypatch):
    with pytest.raises(ValueError, match="webhook_retry_window_hours below 24.*unsigned webhooks"):
        SanctionsSettings(database_url="postgresql+asyncpg://x/y", environment="production", webhook_retry_window_hours=2,
                          webhook_signing_required=False)
