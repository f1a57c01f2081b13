from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class RepairSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REPAIR_", extra="ignore")
    service_name: ClassVar[str] = "repair"
    default_port: ClassVar[int] = 8004

    green_channel_working_days: int = 1  # 三(一): "原则上在1个工作日内完成"
    standard_channel_working_days: int = 5  # applications outside the green channel (configurable)
