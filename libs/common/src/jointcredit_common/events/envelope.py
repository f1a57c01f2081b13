"""CloudEvents 1.0 in Kafka binary mode.

The event's attributes travel as ``ce_*`` headers, the data as the JSON message value, and the Kafka key is
the subject key (``enterprise:<USCC>`` or ``citizen:<keyed hash>``) so one subject's events stay in order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "cn.dalian.jointcredit."


class EnvelopeError(ValueError):
    """A Kafka record that is not a well-formed CloudEvent of ours."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    type: str
    source: str
    subject: str
    data: dict[str, Any]
    key: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None
    specversion: str = SPECVERSION

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("ce_subject", self.subject.encode()),
            ("content-type", CONTENT_TYPE.encode()),
        ]
        if self.traceparent:
            headers.append(("traceparent", self.traceparent.encode()))
        return headers

    def to_kafka(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        return self.key.encode(), orjson.dumps(self.data), self.headers()

    @classmethod
    def from_kafka(cls, key: bytes | None, value: bytes | None, headers: Any) -> "CloudEvent":
        attrs = {name: raw.decode("utf-8", "replace") for name, raw in (headers or ()) if raw is not None}
        missing = [h for h in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject") if h not in attrs]
        if missing:
            raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
        if attrs["ce_specversion"] != SPECVERSION:
            raise EnvelopeError(f"unsupported specversion {attrs['ce_specversion']!r}")
        try:
            data = orjson.loads(value or b"null")
        except orjson.JSONDecodeError as exc:
            raise EnvelopeError(f"data is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EnvelopeError("data must be a JSON object")
        try:
            time = datetime.fromisoformat(attrs["ce_time"]) if "ce_time" in attrs else datetime.now(UTC)
        except ValueError as exc:
            raise EnvelopeError(f"bad ce_time: {exc}") from exc
        return cls(
            id=attrs["ce_id"],
            source=attrs["ce_source"],
            type=attrs["ce_type"],
            subject=attrs["ce_subject"],
            time=time,
            data=data,
            key=(key or b"").decode("utf-8", "replace"),
            traceparent=attrs.get("traceparent"),
        )
