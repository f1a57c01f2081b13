"""Event provenance: each service signs what it publishes (Ed25519); a consumer verifies before any effect.

The broker is not a trust boundary (DESIGN.md §7): whoever reaches it could otherwise publish a
``repair.decided.v1`` and have records repaired. So every record carries two headers beside its CloudEvents ones:

- ``ce_signaturekeyid``: the id of the producer's signing key (``<service>-<n>``; ``<service>-dev`` in development);
- ``ce_signature``: base64 Ed25519 signature over :func:`signing_input` — the topic, the Kafka key, the CloudEvents
  attributes exactly as sent (id, type, source, subject, time, specversion) and the SHA-256 of the exact data bytes.

A consumer accepts a record only if its key id is trusted (``event_trusted_keys``: key id → {service, public_key}),
the signature holds, ``ce_source`` is the signer's service, the event registry assigns ``ce_type`` to that service
(:func:`event_producers`) and the record's topic is the type's topic. Everything else is refused with a reason
from :data:`REJECT_REASONS` (a fixed set: metric labels never carry producer-chosen strings).

The relay signs when it publishes an outbox row, so a replay re-signs the same bytes (Ed25519 is deterministic);
a dead letter keeps its original headers and is verified again when it is re-driven.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

if TYPE_CHECKING:
    from jointcredit_common.settings import ServiceSettings

SIGNATURE_HEADER = "ce_signature"
KEY_ID_HEADER = "ce_signaturekeyid"
SOURCE_PREFIX = "/jointcredit/"
ANY_SERVICE = "*"  # a type every service publishes (dead-letter notices)
_SIGNED_ATTRIBUTES = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time")
_SIGNING_CONTEXT = "jointcredit.event-signature.v1"

# Why a record was refused: the only values of the ``reason`` label of jc_events_rejected_total.
REJECT_REASONS = ("malformed", "unsigned", "unknown_key", "bad_signature", "wrong_source", "wrong_type", "wrong_topic")


class EventRejected(Exception):
    """A record whose provenance does not hold; ``reason`` is one of :data:`REJECT_REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REJECT_REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def signing_input(topic: str, key: bytes | None, value: bytes | None, attrs: dict[str, bytes]) -> bytes:
    """The bytes a signature covers: a JSON array (unambiguous, unlike joined strings) of the context, topic, key,
    the signed CloudEvents attributes as sent, and the SHA-256 of the data bytes."""
    fields = [
        _SIGNING_CONTEXT,
        topic,
        (key or b"").decode("utf-8", "replace"),
        *((attrs.get(name) or b"").decode("utf-8", "replace") for name in _SIGNED_ATTRIBUTES),
        hashlib.sha256(value or b"").hexdigest(),
    ]
    return orjson.dumps(fields)


def _header_map(headers: Any) -> dict[str, bytes]:
    return {name: raw for name, raw in (headers or ()) if raw is not None}


# --- keys ---------------------------------------------------------------------------------------------------


def dev_signing_seed(service: str) -> bytes:
    """A fixed development seed per service (so ``make run`` and tests need no setup); production refuses it."""
    return hashlib.sha256(f"jointcredit-dev-event-signing-key:{service}".encode()).digest()


def dev_key_id(service: str) -> str:
    return f"{service}-dev"


def public_key_b64(seed: bytes) -> str:
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def dev_trusted_keys() -> dict[str, dict[str, str]]:
    """The development public keys of every producing service, as ``event_trusted_keys`` takes them."""
    return {dev_key_id(s): {"service": s, "public_key": public_key_b64(dev_signing_seed(s))} for s in producing_services()}


def decode_seed(value: str) -> bytes:
    seed = base64.b64decode(value, validate=True)
    if len(seed) != 32:
        raise ValueError(f"an Ed25519 signing key is a 32-byte seed (base64); got {len(seed)} bytes")
    return seed


def decode_public_key(value: str) -> Ed25519PublicKey:
    raw = base64.b64decode(value, validate=True)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes (base64); got {len(raw)} bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


# --- the registry: which service publishes which type, on which topic -----------------------------------------


def event_producers() -> dict[str, str]:
    """CloudEvents type → the service that publishes it (``*`` for dead-letter notices), from the event registry."""
    from jointcredit_common.events.schemas import EVENT_TYPES

    return {name: model.producer for name, model in EVENT_TYPES.items()}


def producing_services() -> list[str]:
    return sorted({p for p in event_producers().values() if p != ANY_SERVICE})


def _topic_pattern(prefix: str, topic: str) -> re.Pattern[str]:
    # "measures.{agency}" → one segment per placeholder (an agency code has no dot)
    parts = re.split(r"\{[^}]+\}", f"{prefix}.{topic}")
    return re.compile("[^.]+".join(re.escape(p) for p in parts))


# --- signing and verifying ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSigner:
    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, key_id: str, seed: bytes) -> "EventSigner":
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def dev(cls, service: str) -> "EventSigner":
        return cls.from_seed(dev_key_id(service), dev_signing_seed(service))

    @classmethod
    def from_settings(cls, settings: "ServiceSettings") -> "EventSigner":
        key_id, seed = settings.event_signing_identity()
        return cls.from_seed(key_id, seed)

    def headers(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> list[tuple[str, bytes]]:
        """The two provenance headers for a record about to be sent with ``headers`` (its ``ce_*`` ones)."""
        signature = self.private_key.sign(signing_input(topic, key, value, _header_map(headers)))
        return [(KEY_ID_HEADER, self.key_id.encode()), (SIGNATURE_HEADER, base64.b64encode(signature))]

    def sign(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """``headers`` with any previous provenance headers replaced by this signer's."""
        kept = [(n, v) for n, v in headers if n not in (KEY_ID_HEADER, SIGNATURE_HEADER)]
        return kept + self.headers(topic, key, value, kept)


@dataclass(frozen=True)
class TrustedKey:
    service: str
    public_key: Ed25519PublicKey


class EventVerifier:
    """Checks a record's provenance against the producers' public keys and the event registry."""

    def __init__(self, trusted: dict[str, TrustedKey], *, topic_prefix: str) -> None:
        from jointcredit_common.events.schemas import EVENT_TYPES

        self.trusted = trusted
        self.producers = event_producers()
        self.topics = {name: _topic_pattern(topic_prefix, model.topic) for name, model in EVENT_TYPES.items()}

    @classmethod
    def from_settings(cls, settings: "ServiceSettings") -> "EventVerifier":
        trusted = {kid: TrustedKey(entry["service"], decode_public_key(entry["public_key"]))
                   for kid, entry in settings.effective_trusted_keys().items()}
        return cls(trusted, topic_prefix=settings.topic_prefix)

    def verify(self, topic: str, key: bytes | None, value: bytes | None, headers: Any) -> str:
        """The signing service's name, or :class:`EventRejected`. Reads headers only; the data is hashed, not parsed."""
        attrs = _header_map(headers)
        missing = [name for name in ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_subject") if name not in attrs]
        if missing:
            raise EventRejected("malformed", f"missing CloudEvents headers: {', '.join(missing)}")
        if SIGNATURE_HEADER not in attrs or KEY_ID_HEADER not in attrs:
            raise EventRejected("unsigned", "no ce_signature / ce_signaturekeyid header")
        trusted = self.trusted.get(attrs[KEY_ID_HEADER].decode("utf-8", "replace"))
        if trusted is None:
            raise EventRejected("unknown_key", "signed with a key id this consumer does not trust")
        try:
            signature = base64.b64decode(attrs[SIGNATURE_HEADER], validate=True)
            trusted.public_key.verify(signature, signing_input(topic, key, value, attrs))
        except (InvalidSignature, ValueError) as exc:
            raise EventRejected("bad_signature", f"signature does not verify with {trusted.service}'s key") from exc
        if attrs["ce_source"].decode("utf-8", "replace") != SOURCE_PREFIX + trusted.service:
            raise EventRejected("wrong_source", f"ce_source is not {SOURCE_PREFIX}{trusted.service} (the signer)")
        event_type = attrs["ce_type"].decode("utf-8", "replace")
        producer = self.producers.get(event_type)
        if producer is None or producer not in (trusted.service, ANY_SERVICE):
            raise EventRejected("wrong_type", f"the registry does not assign this type to {trusted.service}")
        if not self.topics[event_type].fullmatch(topic):
            raise EventRejected("wrong_topic", "the registry puts this type on another topic")
        return trusted.service
