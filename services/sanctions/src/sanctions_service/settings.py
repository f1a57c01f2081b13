from typing import ClassVar

from pydantic import Field, IPvAnyNetwork
from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings

# Agencies that must identify a natural person to apply their measure, so they receive the citizen's encrypted ID
# number and name (SubjectRef.id_encrypted / name_encrypted). Everyone else gets the masked display values only.
#   xinyidai_banks, airlines, railway — P2 restrictions on credit, flights, high-speed trains (matched per person)
#   sasac — P5 bar from SOE offices; honours_office — P4 revoking a person's honours
#   education_bureau, hrss_bureau — I4 benefits to the person; admin_service_center — I1 green channel for the person
#   public_credit_platform — the city's system of record for credit records (一, last paragraph)
# Not entitled: credit_china_dalian (publishes: masked only, I6/P3), credit_office (coordinates P6/I7 and forwards;
# it can ask rating with its own authority), and agencies whose measures concern enterprises only.
DEFAULT_IDENTITY_ENTITLED = [
    "xinyidai_banks", "airlines", "railway", "sasac", "honours_office",
    "education_bureau", "hrss_bureau", "admin_service_center", "public_credit_platform",
]


class SanctionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANCTIONS_", extra="ignore")
    service_name: ClassVar[str] = "sanctions"
    default_port: ClassVar[int] = 8003

    identity_entitled_agencies: list[str] = Field(default_factory=lambda: list(DEFAULT_IDENTITY_ENTITLED))

    # 发起-响应-反馈: an agency reports back within this many working days (China's official calendar, Asia/Shanghai)
    # after the day a measure was issued; 0 = due at once (tests and drills).
    feedback_due_working_days: int = Field(5, ge=0, le=60)
    metrics_refresh_seconds: float = Field(15.0, gt=0)

    # Webhooks. Signing is always on when a subscription has a secret; with signing required (the default and the
    # production setting) a subscription cannot be registered without one (a secret is generated if none is given).
    webhook_signing_required: bool = True
    webhook_poll_seconds: float = Field(1.0, gt=0)
    webhook_batch_size: int = Field(50, ge=1, le=1000)
    webhook_timeout_seconds: float = Field(10.0, gt=0)
    webhook_lease_seconds: float = Field(60.0, gt=0)  # > timeout: a crashed sender's claim expires and is retried
    webhook_backoff_base_seconds: float = Field(10.0, gt=0)
    webhook_backoff_max_seconds: float = Field(3600.0, gt=0)
    webhook_retry_window_hours: float = Field(25.0, gt=0)  # then dead-lettered with the last error (issue: >= 24 h)
    webhook_max_skew_seconds: int = 300  # documented for receivers: reject signatures older than this
    # SSRF guard (webhooks/targets.py): a webhook host must resolve to public addresses only, or into one of these
    # networks (e.g. the government extranet segment of the agencies' receivers). Development and tests allow
    # loopback (devstack, test harness); nothing is allowed by default.
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(default_factory=list)
    # Finished deliveries (delivered / cancelled) and their attempt log are purged after this; dead ones are kept.
    webhook_log_retention_days: float = Field(30.0, gt=0)

    def production_problems(self) -> list[str]:
        problems = []
        if self.webhook_retry_window_hours < 24:
            problems.append("webhook_retry_window_hours below 24")
        if not self.webhook_signing_required:
            problems.append("unsigned webhooks (webhook_signing_required=false)")
        if self.feedback_due_working_days == 0:
            problems.append("feedback_due_working_days=0")
        return problems
