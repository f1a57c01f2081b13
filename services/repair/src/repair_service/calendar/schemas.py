from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    working: bool = Field(description="true: an extra working day; false: an extra closure")
    reason: str = Field(min_length=1, max_length=500, description="e.g. the city government's notice number")
