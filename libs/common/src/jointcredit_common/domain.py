"""The platform's shared vocabulary, typed once: every API, event, catalog entry and report uses these.

Adding a value is a change of the public contract (DESIGN §6): the catalog, the event schemas and the OpenAPI of
every service follow from here.
"""

from __future__ import annotations

from typing import Literal

SubjectType = Literal["enterprise", "citizen"]
ListName = Literal["key_warning", "red", "dishonest"]  # 重点关注名单 · 红名单 · 失信名单
# What a report led to (GET /v1/reports/{id} → outcome; report.classified.v1).
# history: the report would list, but its period was over when reported or the notice had ended (no listing).
Outcome = Literal[
    "key_warning", "red", "dishonest", "history", "exempted", "not_exempted", "evidence_required", "out_of_scope"]
SeverityTier = Literal["minor", "general", "serious"]
MeasureKind = Literal["incentive", "punishment", "notice", "financing", "service"]
# history: kept (依规保存), never listed nor published; its subject may still object to it.
RecordState = Literal["active", "disputed", "repaired", "withdrawn", "expired", "history"]
