from sqlalchemy import BigInteger, Column, Date, DateTime, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

measures = Table(
    "measures", metadata,
    Column("id", UUID(as_uuid=True), primary_key=True), Column("seq", BigInteger), Column("record_id", UUID(as_uuid=True)),
    Column("subject_key", Text), Column("agency", Text), Column("measure", Text), Column("list", Text), Column("state", Text),
    Column("payload", JSONB), Column("starts_on", Date), Column("planned_end_on", Date),
    Column("issued_at", DateTime(timezone=True)), Column("lifted_at", DateTime(timezone=True)), Column("lift_reason", Text),
)
