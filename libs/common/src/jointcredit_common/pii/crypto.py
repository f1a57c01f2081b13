"""Encryption at rest and on the bus (AES-256-GCM key ring) and keyed hashing (HMAC-SHA256) of identifiers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

class PiiDecryptionError(Exception):
    """A token could not be decrypted: malformed, tampered, wrong context or unknown key id.

    Not a ValueError on purpose: it signals corrupt storage or missing keys (a server fault),
    not bad client input.
    """


class PiiKeyError(ValueError):
    """Key configuration is unusable (wrong length, bad base64, unknown active key id)."""



_TOKEN_VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_BYTES = 32  # AES-256
_KEY_ID = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # no ":" — it separates the token's parts


def generate_key() -> str:
    """A fresh random 32-byte key, base64-encoded, for operators to put in settings."""
    return base64.b64encode(os.urandom(_KEY_BYTES)).decode("ascii")


def _decode_key(encoded: str, *, name: str) -> bytes:
    """Accept standard or URL-safe base64, padded or not."""
    text = "".join(encoded.split()).replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise PiiKeyError(f"key {name!r} is not valid base64") from None
    if len(key) != _KEY_BYTES:
        raise PiiKeyError(f"key {name!r} must be {_KEY_BYTES} bytes, got {len(key)}")
    return key


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PiiCipher:
    """AES-256-GCM with a key ring; tokens are ``v1:<key_id>:<base64url(nonce|ciphertext)>``.

    ``context`` is authenticated associated data naming where the value lives (e.g.
    ``"subject.id_number"``): a token copied into another field fails to decrypt there.
    """

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        if not keys:
            raise PiiKeyError("the key ring is empty")
        ring: dict[str, AESGCM] = {}
        for key_id, key in keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise PiiKeyError(f"key id {key_id!r} must match {_KEY_ID.pattern}")
            if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
                raise PiiKeyError(f"key {key_id!r} must be {_KEY_BYTES} bytes")
            ring[key_id] = AESGCM(key)
        if active_key_id not in ring:
            raise PiiKeyError(f"active key id {active_key_id!r} is not in the key ring")
        self._ring = ring
        self.active_key_id = active_key_id

    @classmethod
    def from_settings(cls, keys: Mapping[str, str], active_key_id: str) -> PiiCipher:
        """Build from settings holding base64 keys, e.g. ``{"2025-01": "…", "2025-07": "…"}``."""
        return cls({key_id: _decode_key(k, name=key_id) for key_id, k in keys.items()}, active_key_id)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ring)

    def __repr__(self) -> str:  # never print key material
        return f"PiiCipher(key_ids={sorted(self._ring)}, active_key_id={self.active_key_id!r})"

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ring[self.active_key_id].encrypt(
            nonce, plaintext.encode("utf-8"), context.encode("utf-8")
        )
        return f"{_TOKEN_VERSION}:{self.active_key_id}:{_b64url_encode(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str = "") -> str:
        key_id, blob = self._parse(token)
        aead = self._ring.get(key_id)
        if aead is None:
            raise PiiDecryptionError(f"unknown key id {key_id!r}")
        try:
            plaintext = aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context.encode("utf-8"))
            return plaintext.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise PiiDecryptionError("token failed authentication (tampered or wrong context)") from None

    def needs_rotation(self, token: str) -> bool:
        """True if the token was sealed with a key other than the active one."""
        key_id, _ = self._parse(token)
        return key_id != self.active_key_id

    def rotate(self, token: str, context: str = "") -> str:
        """Re-encrypt under the active key. Always authenticates the token first; a token already
        under the active key is returned unchanged (so a background job can rerun safely)."""
        plaintext = self.decrypt(token, context=context)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, context=context)

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes]:
        parts = token.split(":") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION:
            raise PiiDecryptionError("not a v1 PII token")
        key_id, payload = parts[1], parts[2]
        try:
            blob = _b64url_decode(payload)
        except (binascii.Error, ValueError):
            raise PiiDecryptionError("token payload is not base64url") from None
        if len(blob) < _NONCE_BYTES + _TAG_BYTES:
            raise PiiDecryptionError("token payload is too short")
        return key_id, blob


class PiiHasher:
    """Deterministic keyed hash (HMAC-SHA256, hex) to look subjects up by ID number without
    storing it. Its key must differ from every encryption key; see "Key rotation" above."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < _KEY_BYTES:
            raise PiiKeyError(f"hash key must be at least {_KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_settings(cls, key: str) -> PiiHasher:
        return cls(_decode_key(key, name="hash key"))

    def __repr__(self) -> str:
        return "PiiHasher(<key hidden>)"

    def keyed_hash(self, value: str) -> str:
        """Hash of the exact string: normalise identifiers first (``normalize_resident_id``)."""
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()
