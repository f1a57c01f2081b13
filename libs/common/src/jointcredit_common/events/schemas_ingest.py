"""Ingest's own event types beyond events/schemas.py: enterprises' epidemic-prevention commitments (承诺书).

Notice §一: enterprises resuming work sign a commitment that is made public. Ingest announces each filing so
that the public credit platform (and rating, if it wants to show it on a subject's report) can pick it up.
The signatory is a natural person: the event carries the masked name and the AES-GCM ciphertext only.
"""

from __future__ import annotations

from datetime import date, datetime

from jointcredit_common.events.schemas import EventData


class CommitmentFiled(EventData):
    event_type = "commitment.filed.v1"
    topic = "commitments"
    summary = "A member department filed an enterprise's signed epidemic-prevention commitment (承诺书) (ingest)."

    commitment_id: str
    department: str
    subject_key: str  # "enterprise:<USCC>"
    enterprise_id: str
    enterprise_name: str
    signatory_masked: str
    signatory_encrypted: str
    signed_on: date
    document_sha256: str | None = None
    text_sha256: str | None = None
    filed_at: datetime
