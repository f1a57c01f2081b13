from datetime import date
from typing import ClassVar, Literal

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from jointcredit_common.catalog import load_catalog
from jointcredit_common.settings import ServiceSettings

# The explicit "the emergency response has not ended" (RATING_EMERGENCY_ENDS_ON=not_ended).
NOT_ENDED = "not_ended"


class RatingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", extra="ignore")
    service_name: ClassVar[str] = "rating"
    default_port: ClassVar[int] = 8002

    # "新冠肺炎疫情应急响应结束后终止": the last day of the emergency response, a decision of the city — a date, or
    # "not_ended". After it, acts are out_of_scope and nothing new is listed (classifier). Production refuses to
    # start without it (unset is a silence, not a decision); a date before the notice's start is refused anywhere.
    emergency_ends_on: date | Literal["not_ended"] | None = None
    # Working days within which an objection (异议) must be decided; None keeps the catalog's value.
    objection_decision_working_days: int | None = None
    expiry_check_seconds: float = 60.0

    @field_validator("emergency_ends_on")
    @classmethod
    def _not_before_the_notice(cls, value: date | str | None) -> date | str | None:
        if isinstance(value, date):
            starts_on = load_catalog().validity.starts_on
            if value < starts_on:
                raise ValueError(f"emergency_ends_on {value} is before the notice took effect ({starts_on}); "
                                 f"give the last day of the emergency response, or {NOT_ENDED!r}")
        return value

    def production_problems(self) -> list[str]:
        if self.emergency_ends_on is None:
            return [f"no RATING_EMERGENCY_ENDS_ON (the city's decision: the last day of the emergency response, "
                    f"or {NOT_ENDED})"]
        return []

    @property
    def emergency_end_date(self) -> date | None:
        """The configured last day of the emergency response; None while it has not ended (or is not set)."""
        return self.emergency_ends_on if isinstance(self.emergency_ends_on, date) else None
