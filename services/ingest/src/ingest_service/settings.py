from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    service_name: ClassVar[str] = "ingest"
    default_port: ClassVar[int] = 8001

    # Idempotency-Key records are kept this long; a retry after that is a new report.
    idempotency_ttl_hours: float = 24.0
    max_batch_items: int = 10_000
