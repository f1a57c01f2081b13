"""Who a record is about, once for every service: the subject key and the named encryption contexts.

- **Subject key** — the Kafka key of every event about a subject (so one subject's events share a partition and stay
  in order) and the join key between the services' databases: ``enterprise:<USCC>`` or ``citizen:<keyed hash of the
  normalised resident ID>`` (HMAC-SHA256 under the platform's hash key; the ID itself never appears).
- **Encryption contexts** — the AES-GCM associated data bound into every ciphertext (``PiiCipher``): a ciphertext made
  for one field does not decrypt as another. Agencies entitled to a citizen's identity decrypt ``id_encrypted`` /
  ``name_encrypted`` of ``subject.listed.v1`` and ``measure.issued.v1`` with :data:`SUBJECT_ID_CONTEXT` and
  :data:`SUBJECT_NAME_CONTEXT` (documented in services/sanctions/README.md).
"""

from __future__ import annotations

from jointcredit_common.domain import SubjectType
from jointcredit_common.pii import PiiHasher, normalize_subject_id

__all__ = ["SubjectType", "subject_key", "subject_key_of"]

SUBJECT_ID_CONTEXT = "subject.id"  # a citizen's resident ID number (GB 11643), on reports, events and measures
SUBJECT_NAME_CONTEXT = "subject.name"  # a citizen's name
COMMITMENT_SIGNATORY_CONTEXT = "commitment.signatory"  # the person who signed an enterprise's commitment (承诺书)


def subject_key(subject_type: SubjectType | str, normalized_id: str, hasher: PiiHasher) -> str:
    """The key of a subject whose identifier is already normalised (``normalize_subject_id``)."""
    return f"enterprise:{normalized_id}" if subject_type == "enterprise" else f"citizen:{hasher.keyed_hash(normalized_id)}"


def subject_key_of(subject_type: SubjectType, raw_id: str, hasher: PiiHasher) -> str:
    """Validate and normalise ``raw_id`` (USCC / resident ID checksums), then key it. Raises InvalidIdentifier."""
    return subject_key(subject_type, normalize_subject_id(subject_type, raw_id), hasher)
