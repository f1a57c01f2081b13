"""Settings fail fast: production refuses what is only safe on a developer's machine."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, ServiceSettings

REAL_KEY = base64.b64encode(os.urandom(32)).decode()
REAL_HASH_KEY = base64.b64encode(os.urandom(32)).decode()
DB = "postgresql+asyncpg://ingest@db/ingest"


def production(**overrides):
    values = dict(environment="production", database_url=DB, pii_keys={"k1": REAL_KEY}, pii_active_key="k1",
                  pii_hash_key=REAL_HASH_KEY, admin_bootstrap_token_sha256="ab" * 32)
    values.update(overrides)
    return ServiceSettings(**values)


def test_production_with_real_keys_and_an_admin_starts():
    assert production().environment == "production"


DEV_KEYS = {"pii_keys": {"dev": DEV_PII_KEY}, "pii_active_key": "dev"}


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        (DEV_KEYS, "development PII keys"),
        ({"pii_hash_key": DEV_PII_HASH_KEY}, "development PII keys"),
        ({"bootstrap_credentials_file": "/tmp/creds.json"}, "demo credentials"),
        ({"fault_inject": "relay_after_publish"}, "fault_inject"),
        ({"admin_bootstrap_token_sha256": None}, "admin_bootstrap_token_sha256"),
    ],
)
def test_production_refuses_development_only_values(overrides, complaint):
    with pytest.raises(ValidationError, match=complaint):
        production(**overrides)


def test_development_accepts_the_demo_defaults():
    assert ServiceSettings(database_url=DB).environment == "development"


def test_a_database_url_is_required():
    with pytest.raises(ValidationError, match="database_url is required"):
        ServiceSettings()


def test_service_prefix_wins_over_the_shared_jc_prefix(monkeypatch):
    from typing import ClassVar

    from pydantic_settings import SettingsConfigDict

    class IngestLike(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="INGESTLIKE_", extra="ignore")
        service_name: ClassVar[str] = "ingestlike"

    monkeypatch.setenv("JC_KAFKA_BOOTSTRAP_SERVERS", "shared:9092")
    monkeypatch.setenv("JC_TOPIC_PREFIX", "shared")
    monkeypatch.setenv("INGESTLIKE_TOPIC_PREFIX", "mine")
    monkeypatch.setenv("INGESTLIKE_DATABASE_URL", DB)
    settings = IngestLike()
    assert (settings.kafka_bootstrap_servers, settings.topic_prefix, settings.database_url) == ("shared:9092", "mine", DB)
