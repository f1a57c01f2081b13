"""Settings fail fast: production refuses what is only safe on a developer's machine."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from jointcredit_common.events.provenance import dev_signing_seed, dev_trusted_keys, public_key_b64
from jointcredit_common.settings import DEV_PII_HASH_KEY, DEV_PII_KEY, ServiceSettings

REAL_KEY = base64.b64encode(os.urandom(32)).decode()
REAL_HASH_KEY = base64.b64encode(os.urandom(32)).decode()
DB = "postgresql+asyncpg://ingest@db/ingest"


REAL_SIGNING_SEED = os.urandom(32)
REAL_TRUSTED_KEYS = {"ingest-2026-12": {"service": "ingest", "public_key": public_key_b64(REAL_SIGNING_SEED)},
                     "rating-2026-12": {"service": "rating", "public_key": public_key_b64(os.urandom(32))}}


def production(**overrides):
    values = dict(environment="production", database_url=DB, pii_keys={"k1": REAL_KEY}, pii_active_key="k1",
                  pii_hash_key=REAL_HASH_KEY, admin_bootstrap_token_sha256="ab" * 32,
                  event_signing_key=base64.b64encode(REAL_SIGNING_SEED).decode(), event_signing_key_id="ingest-2026-12",
                  event_trusted_keys=REAL_TRUSTED_KEYS)
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
        ({"event_signing_key": None, "event_signing_key_id": None}, "no event_signing_key"),
        ({"event_signing_key": base64.b64encode(dev_signing_seed("ingest")).decode()}, "a development event_signing_key"),
        ({"event_signing_key": base64.b64encode(dev_signing_seed("rating")).decode()}, "a development event_signing_key"),
        ({"event_trusted_keys": {}}, "no event_trusted_keys"),
        ({"event_trusted_keys": REAL_TRUSTED_KEYS | dev_trusted_keys()}, "development keys in event_trusted_keys"),
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


def test_event_keys_are_checked_in_any_environment():
    with pytest.raises(ValidationError, match="32-byte seed"):
        ServiceSettings(database_url=DB, event_signing_key=base64.b64encode(b"short").decode(), event_signing_key_id="x")
    with pytest.raises(ValidationError, match="event_signing_key_id is required"):
        ServiceSettings(database_url=DB, event_signing_key=base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(ValidationError, match="service.*public_key"):
        ServiceSettings(database_url=DB, event_trusted_keys={"k": {"public_key": public_key_b64(os.urandom(32))}})


def test_development_signs_with_its_service_key_and_trusts_every_development_key(monkeypatch):
    monkeypatch.delenv("JC_EVENT_TRUSTED_KEYS", raising=False)
    settings = ServiceSettings(database_url=DB)
    assert settings.event_signing_identity() == ("service-dev", dev_signing_seed("service"))
    assert settings.effective_trusted_keys() == dev_trusted_keys()
    assert set(dev_trusted_keys()) == {"ingest-dev", "rating-dev", "sanctions-dev", "repair-dev"}


def test_trusted_keys_are_read_as_json_from_the_environment(monkeypatch):
    import json

    monkeypatch.setenv("JC_EVENT_TRUSTED_KEYS", json.dumps(REAL_TRUSTED_KEYS))
    assert ServiceSettings(database_url=DB).effective_trusted_keys() == REAL_TRUSTED_KEYS
