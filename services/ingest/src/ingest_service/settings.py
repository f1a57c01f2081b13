from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")
    service_name: ClassVar[str] = "ingest"
    default_port: ClassVar[int] = 8001

    # Idempotency-Key records are kept this long; a retry after that is a new report.
    idempotency_ttl_hours: float = 24.0
    idempotency_purge_interval_seconds: float = 600.0
    # POST /v1/reports:batch: at most this many items (JSON array or NDJSON lines); one transaction per chunk.
    max_batch_items: int = 10_000
    max_batch_body_bytes: int = 32 * 1_048_576  # that route's body limit (every other route: max_body_bytes)
    batch_chunk_size: int = 500
    # Single-report POSTs are committed in shared transactions by this many writer loops (reports/writer.py).
    report_writers: int = 2
