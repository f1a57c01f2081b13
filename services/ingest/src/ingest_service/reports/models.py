"""Tables of the ingest service (the migration is the schema's source; these mirror it for queries)."""

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

reports = Table(
    "reports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", Text, nullable=False),
    Column("subject_type", Text, nullable=False),
    Column("subject_key", Text, nullable=False),
    Column("subject_id", Text),
    Column("subject_id_encrypted", Text),
    Column("subject_name", Text),
    Column("subject_name_encrypted", Text),
    Column("behavior", Text, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("description", Text),
    Column("evidence", JSONB, nullable=False),
    Column("exemption", JSONB),
    Column("status", Text, nullable=False),
    Column("outcome", Text),
    Column("clause_codes", JSONB),
    Column("reason_zh", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("classified_at", DateTime(timezone=True)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("withdraw_reason", Text),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("department", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_sha256", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# --- 0002 ------------------------------------------------------------------------------------------------

departments = Table(
    "departments",
    metadata,
    Column("code", Text, primary_key=True),
    Column("name_zh", Text, nullable=False),
    Column("behaviors", JSONB, nullable=False),  # catalog behaviour codes this department may report, or ["*"]
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("disabled_at", DateTime(timezone=True)),
)

commitments = Table(
    "commitments",
    metadata,
    Column("seq", BigInteger, nullable=False),  # identity, keyset order
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("department", Text, nullable=False),
    Column("enterprise_id", Text, nullable=False),
    Column("enterprise_name", Text, nullable=False),
    Column("signatory_encrypted", Text, nullable=False),
    Column("signatory_masked", Text, nullable=False),
    Column("signed_on", Date, nullable=False),
    Column("text", Text),
    Column("document_sha256", Text),
    Column("content_sha256", Text, nullable=False),
    Column("filed_at", DateTime(timezone=True)),
)
