from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class RepairSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPAIR_", extra="ignore")
    service_name: ClassVar[str] = "repair"
    default_port: ClassVar[int] = 8004

    green_channel_working_days: int = Field(1, ge=1, le=60)  # 三(一): "原则上在1个工作日内完成"
    standard_channel_working_days: int = Field(5, ge=1, le=60)  # applications outside the green channel (configurable)

    # SLA timer loop: how often each replica looks for due timers, and how many it claims per transaction.
    sla_poll_seconds: float = Field(2.0, gt=0)
    sla_batch_size: int = Field(100, ge=1, le=10_000)
    # How often the open / due-today / overdue gauges are recomputed from the database.
    metrics_refresh_seconds: float = Field(10.0, gt=0)
    # Applications may name at most this many records.
    max_records_per_application: int = Field(50, ge=1, le=1000)
    # A backdated paper application (admin-only accepted_at) may not lie more than this far in the future
    # (clock skew between the counter's PC and the server).
    accepted_at_future_tolerance_seconds: float = Field(300.0, ge=0)
    # Where the rating service's credit reports are (三(一) "免费信用报告"); links in approved applications.
    rating_public_url: str = "http://127.0.0.1:8002"
