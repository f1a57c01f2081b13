"""Settings shared by every service (pydantic-settings).

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` (``INGEST_``, ``RATING_`` …).
A value is read from ``<PREFIX>X`` first and then from ``JC_X``, so one ConfigMap can carry what the
services share (broker, topic prefix, keys) while each keeps its own database URL.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

# Development-only keys. Production refuses to start with them (see _refuse_unsafe_production_values).
DEV_PII_KEY_ID = "dev"
DEV_PII_KEY = base64.b64encode(b"jointcredit-dev-pii-key-32bytes!").decode()
DEV_PII_HASH_KEY = base64.b64encode(b"jointcredit-dev-hash-key-32byte!").decode()
DEV_WEBHOOK_SECRET_KEY = base64.b64encode(b"jointcredit-dev-webhook-secret!!").decode()


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", env_nested_delimiter=None)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = ""
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "jointcredit"
    consumer_group_prefix: str = "jointcredit"

    pii_keys: dict[str, str] = Field(default_factory=lambda: {DEV_PII_KEY_ID: DEV_PII_KEY})
    pii_active_key: str = DEV_PII_KEY_ID
    pii_hash_key: str = DEV_PII_HASH_KEY

    # Event provenance (events/provenance.py): this service's Ed25519 signing key (base64 32-byte seed) and its id,
    # and the producers' public keys this service's consumers trust: JSON {key id: {"service", "public_key"}}, two
    # ids for one service during a key rollover. Outside production, unset values mean the fixed development keys.
    event_signing_key: str | None = None
    event_signing_key_id: str | None = None
    event_trusted_keys: dict[str, dict[str, str]] = Field(default_factory=dict)

    # The first admin credential in production: the SHA-256 of a token an operator generated.
    admin_bootstrap_token_sha256: str | None = None
    # Development only: a JSON file of demo credentials (role, principal, token, scopes) to import.
    bootstrap_credentials_file: Path | None = None

    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 1_048_576  # every route; a service names the routes it allows more on (ServiceSpec.body_limits)

    # Request rate limits (token buckets in each replica's memory; a cluster allows replicas × these, so a gateway
    # enforces the global limit). Per credential (SHA-256 of the bearer token): a department's system posting
    # single reports or batches stays far below them. Per client address for requests without a credential, and
    # for every 401 answered to that address (random tokens do not buy fresh buckets). 0 disables a limit.
    rate_limit_per_second: float = Field(100.0, ge=0)
    rate_limit_burst: int = Field(200, ge=0)
    anonymous_rate_limit_per_second: float = Field(10.0, ge=0)
    anonymous_rate_limit_burst: int = Field(40, ge=0)

    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Off by default: a ping is a round trip on every checkout. A dropped connection is detected on use instead —
    # SQLAlchemy then invalidates the whole pool, that request answers 503 (retryable) and later ones reconnect.
    db_pool_pre_ping: bool = False
    db_connect_timeout_seconds: float = 5.0
    outbox_batch_size: int = 500
    outbox_lease_seconds: float = 30.0
    outbox_poll_seconds: float = 1.0
    outbox_linger_seconds: float = 0.005
    outbox_retention_hours: float = 168.0
    outbox_purge_interval_seconds: float = 600.0
    inbox_retention_hours: float = 720.0
    consumer_max_retries: int = 5
    consumer_retry_backoff_seconds: float = 0.2
    consumer_batch_max_records: int = 500
    # How long the broker may hold a fetch that found nothing new: each hop's latency when the pipeline is quiet
    # (Kafka's and aiokafka's 500 ms default; tansu answers a waiting fetch late, measured in docs/benchmarks.md).
    consumer_fetch_max_wait_ms: int = 50
    # The embedded broker (tansu) completes a group join after half the session timeout, so dev/test use a short one.
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    run_relay: bool = True
    run_consumers: bool = True

    # Test-only fault injection point (e.g. "relay_after_publish", "consumer_after_commit"); refused in production.
    fault_inject: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared_env = EnvSettingsSource(settings_cls, env_prefix="JC_", case_sensitive=False)
        return init_settings, env_settings, shared_env, dotenv_settings, file_secret_settings

    @field_validator("pii_keys", "event_trusted_keys", mode="before")
    @classmethod
    def _json_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production_values(self) -> "ServiceSettings":
        if not self.database_url:
            raise ValueError(f"{self.service_name}: database_url is required")
        if self.pii_active_key not in self.pii_keys:
            raise ValueError(f"pii_active_key {self.pii_active_key!r} is not among pii_keys")
        for prefix in ("", "anonymous_"):
            if getattr(self, f"{prefix}rate_limit_per_second") > 0 and getattr(self, f"{prefix}rate_limit_burst") < 1:
                raise ValueError(f"{prefix}rate_limit_burst must be at least 1 while {prefix}rate_limit_per_second is set")
        self._check_event_keys()
        if self.environment != "production":
            return self
        problems = []
        if DEV_PII_KEY in self.pii_keys.values() or self.pii_hash_key == DEV_PII_HASH_KEY:
            problems.append("development PII keys")
        problems.extend(self._event_key_problems())
        if self.bootstrap_credentials_file is not None:
            problems.append("bootstrap_credentials_file (demo credentials)")
        if self.fault_inject:
            problems.append("fault_inject")
        if not self.admin_bootstrap_token_sha256:
            problems.append("no admin_bootstrap_token_sha256")
        problems.extend(self.production_problems())
        if problems:
            raise ValueError("refusing to start in production with: " + ", ".join(problems))
        return self

    def _check_event_keys(self) -> None:
        from jointcredit_common.events.provenance import decode_public_key, decode_seed

        if self.event_signing_key is not None:
            decode_seed(self.event_signing_key)
            if not self.event_signing_key_id:
                raise ValueError("event_signing_key_id is required with event_signing_key")
        for key_id, entry in self.event_trusted_keys.items():
            if set(entry) != {"service", "public_key"}:
                raise ValueError(f"event_trusted_keys[{key_id!r}] must be {{'service', 'public_key'}}")
            decode_public_key(entry["public_key"])

    def _event_key_problems(self) -> list[str]:
        from jointcredit_common.events.provenance import dev_signing_seed, dev_trusted_keys, producing_services

        problems = []
        dev_seeds = {dev_signing_seed(s) for s in producing_services() + [self.service_name]}
        if self.event_signing_key is None:
            problems.append("no event_signing_key")
        elif base64.b64decode(self.event_signing_key) in dev_seeds:
            problems.append("a development event_signing_key")
        if not self.event_trusted_keys:
            problems.append("no event_trusted_keys")
        dev_public = {entry["public_key"] for entry in dev_trusted_keys().values()}
        if any(entry["public_key"] in dev_public for entry in self.event_trusted_keys.values()):
            problems.append("development keys in event_trusted_keys")
        return problems

    def event_signing_identity(self) -> tuple[str, bytes]:
        """(key id, 32-byte seed) this service signs its events with; the development key outside production."""
        from jointcredit_common.events.provenance import decode_seed, dev_key_id, dev_signing_seed

        if self.event_signing_key is not None:
            return str(self.event_signing_key_id), decode_seed(self.event_signing_key)
        return dev_key_id(self.service_name), dev_signing_seed(self.service_name)

    def effective_trusted_keys(self) -> dict[str, dict[str, str]]:
        """The producers' public keys this service's consumers accept; every development key if none are set."""
        from jointcredit_common.events.provenance import dev_trusted_keys

        return self.event_trusted_keys or dev_trusted_keys()

    def production_problems(self) -> list[str]:
        """Service-specific unsafe values; subclasses extend."""
        return []

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    @property
    def consumer_group(self) -> str:
        return f"{self.consumer_group_prefix}.{self.service_name}"
