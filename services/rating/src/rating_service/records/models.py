"""Tables of the rating service (mirroring migrations/versions)."""

from sqlalchemy import Column, Date, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

subjects = Table(
    "subjects", metadata,
    Column("key", Text, primary_key=True), Column("type", Text), Column("display_id", Text), Column("display_name", Text),
    Column("id_encrypted", Text), Column("name_encrypted", Text), Column("created_at", DateTime(timezone=True)),
)

classifications = Table(
    "classifications", metadata,
    Column("report_id", UUID(as_uuid=True), primary_key=True), Column("subject_key", Text), Column("department", Text),
    Column("behavior", Text), Column("outcome", Text), Column("clause_codes", JSONB), Column("reason_zh", Text),
    Column("decision", JSONB), Column("record_id", UUID(as_uuid=True)), Column("catalog", Text),
    Column("decided_at", DateTime(timezone=True)),
)

credit_records = Table(
    "credit_records", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("report_id", UUID(as_uuid=True)), Column("subject_key", Text),
    Column("department", Text), Column("list", Text), Column("behavior", Text), Column("clause_codes", JSONB),
    Column("tier", Text), Column("state", Text), Column("publicity_starts_on", Date), Column("publicity_ends_on", Date),
    Column("evidence", JSONB), Column("measures", JSONB), Column("suppressed_measures", JSONB), Column("reason_zh", Text),
    Column("notice", JSONB), Column("catalog", Text), Column("created_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)), Column("end_reason", Text),
    Column("occurred_on", Date),  # 0002
)

# 0002: objections (异议) against a credit record; one pending objection per record at most.
objections = Table(
    "objections", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("record_id", UUID(as_uuid=True)),
    Column("subject_key", Text), Column("filed_by_role", Text), Column("filed_by", Text), Column("grounds", Text),
    Column("materials", JSONB), Column("state", Text), Column("filed_at", DateTime(timezone=True)), Column("due_on", Date),
    Column("decided_at", DateTime(timezone=True)), Column("decided_by", Text), Column("decision_reason", Text),
)

# 0002: every credit report handed out, by verification id (报告验证码), so a copy can be checked later.
credit_reports = Table(
    "credit_reports", metadata,
    Column("verification_id", Text, primary_key=True), Column("subject_key", Text), Column("format", Text),
    Column("generated_at", DateTime(timezone=True)), Column("content_sha256", Text), Column("summary", JSONB),
)
