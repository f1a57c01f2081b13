from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class SanctionsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SANCTIONS_", extra="ignore")
    service_name: ClassVar[str] = "sanctions"
    default_port: ClassVar[int] = 8003
