from datetime import date
from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from jointcredit_common.settings import ServiceSettings


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", extra="ignore")
    service_name: ClassVar[str] = "rating"
    default_port: ClassVar[int] = 8002

    # "新冠肺炎疫情应急响应结束后终止": the end of the emergency response; reports after it are out_of_scope.
    emergency_ends_on: date | None = None
    # Working days within which an objection (异议) must be decided; None keeps the catalog's value.
    objection_decision_working_days: int | None = None
    expiry_check_seconds: float = 60.0
