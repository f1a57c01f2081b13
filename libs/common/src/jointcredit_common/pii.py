"""Personal data: identifier validation, masking, encryption at rest, keyed hashing, log scrubbing.

DESIGN §4: citizen ID numbers are personal information — validated (GB 11643 checksum), stored
encrypted, looked up by keyed hash and masked in every public or log output. Enterprise codes
(GB 32100 USCC) are validated but are public, so they are never masked or encrypted.

Typical use for a citizen subject::

    id_number = normalize_resident_id(raw)                      # InvalidIdentifier -> 4xx
    row.id_number_enc = cipher.encrypt(id_number, context="subject.id_number")
    row.id_number_hash = hasher.keyed_hash(id_number)           # equality look-ups
    public_view.id_number = mask_resident_id(id_number)         # "2101**********1234"

Always normalise before hashing: the hash is of the exact string, so "…123x" and "…123X" would
otherwise be two different subjects.

Key rotation
------------
Encryption keys (``PiiCipher``) live in a key ring ``{key_id: 32-byte key}`` with one active id.
Every token names the key that sealed it (``v1:<key_id>:<base64url(nonce|ciphertext)>``), so
rotation needs no downtime:

1. Generate a key (``generate_key()``) and add it to the ring under a new key id (e.g. ``"2025-07"``)
   on every service, still with the old id active. Deploy. (Every instance can now decrypt
   the new key's tokens before any are written.)
2. Make the new key id active. Deploy. New writes use it; old tokens keep decrypting.
3. In the background, page through stored tokens and for each one where
   ``cipher.needs_rotation(token)`` re-encrypt it with ``cipher.rotate(token, context=...)``
   (the same context it was written with), committing in small batches. Events already on the
   broker are not rewritten: keep the old key until the topics' retention window has passed.
4. When no stored token (and no retained event) names the old key id, remove it from the ring.
   Deploy. From then on a leftover old token fails loudly with ``PiiDecryptionError``.

Random 96-bit nonces are safe for up to 2**32 encryptions per key (NIST SP 800-38D); rotate
well before that — in practice, rotate on a calendar (e.g. yearly) or on suspected exposure.

The keyed-hash key (``PiiHasher``) is deliberately separate from the encryption keys and cannot
be rotated in place: a lookup hash is only useful if the writer and the reader use the same key,
and the stored hashes cannot be recomputed without the plaintext. Rotate it with a dual-hash
period:

1. Add a second hash column (or a ``hash_key_id`` alongside the hash) and configure both the old
   and the new ``PiiHasher``.
2. Write both hashes on every insert/update; look up by the new hash first, then by the old.
3. Backfill: decrypt each stored identifier with the cipher, normalise it, write its new hash.
4. When the backfill is complete, stop writing and querying the old hash, drop the old column
   and remove the old hash key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc
from stdnum.util import clean

from jointcredit_common.domain import SubjectType

__all__ = [
    "InvalidIdentifier",
    "PiiCipher",
    "PiiDecryptionError",
    "PiiHasher",
    "PiiKeyError",
    "generate_key",
    "mask_name",
    "mask_resident_id",
    "normalize_resident_id",
    "normalize_subject_id",
    "normalize_uscc",
    "scrub",
    "scrub_processor",
]


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class InvalidIdentifier(ValueError):
    """A subject identifier failed validation. Bad client input: map to a 4xx.

    The message never contains the value itself (it may be a citizen's ID number).
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(kind, reason)
        self.kind = kind
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid {self.kind}: {self.reason}"


class PiiDecryptionError(Exception):
    """A token could not be decrypted: malformed, tampered, wrong context or unknown key id.

    Not a ValueError on purpose: it signals corrupt storage or missing keys (a server fault),
    not bad client input.
    """


class PiiKeyError(ValueError):
    """Key configuration is unusable (wrong length, bad base64, unknown active key id)."""


# --------------------------------------------------------------------------------------------
# Identifier validation
# --------------------------------------------------------------------------------------------

# GB 32100-2015 registering-authority codes (first character). stdnum only accepts digits here,
# which would wrongly reject codes issued by authorities A (军队编制), N (农业, e.g. rural collective
# economic organisations) and Y (其他), so the format is checked here and stdnum only supplies
# the check digit.
_USCC_AUTHORITIES = frozenset("123456789ANY")
_USCC_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRTUWXY")  # GB 32100: no I, O, S, V, Z

# GB/T 2260 province-level codes (first two digits of a GB 11643 number); 83 is used by
# residence permits for Taiwan residents (since 2018). Only the province is checked: stdnum's
# county table check would reject real people whose county code was created or retired after
# their birth year (e.g. 110112 通州区 for someone born before 1997).
_PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82", "83",
    }
)  # fmt: skip
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _compact(value: object, kind: str) -> str:
    """Uppercase and strip whitespace and hyphens (also full-width forms typed with a CJK IME)."""
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, "bad format")
    value = unicodedata.normalize("NFKC", value)  # full-width digits/letters -> ASCII
    value = clean(value, " -")  # stdnum: maps Unicode dashes/spaces, then deletes them
    return "".join(value.split()).upper()


def normalize_uscc(value: str) -> str:
    """Validate a GB 32100 Unified Social Credit Code and return its canonical form.

    Raises ``InvalidIdentifier("uscc", reason)``.
    """
    number = _compact(value, "uscc")
    if len(number) != 18:
        raise InvalidIdentifier("uscc", "bad length")
    if (
        number[0] not in _USCC_AUTHORITIES
        or not number[2:8].isdigit()  # region code (GB/T 2260)
        or any(c not in _USCC_ALPHABET for c in number)
    ):
        raise InvalidIdentifier("uscc", "bad format")
    if number[17] != uscc.calc_check_digit(number[:17]):
        raise InvalidIdentifier("uscc", "bad checksum")
    return number


def normalize_resident_id(value: str, *, today: date | None = None) -> str:
    """Validate an 18-character GB 11643 citizen ID number and return its canonical form.

    Checks length, format, the ISO 7064 MOD 11-2 check character, the province code, and that
    the birth date exists, is not in the future and is not before 1900-01-01. Old 15-digit
    numbers are rejected (they carry no checksum). ``today`` is injectable for tests.

    Raises ``InvalidIdentifier("resident_id", reason)``.
    """
    kind = "resident_id"
    number = _compact(value, kind)
    if len(number) != 18:
        raise InvalidIdentifier(kind, "bad length")
    if not (number[:17].isascii() and number[:17].isdigit()) or number[17] not in "0123456789X":
        raise InvalidIdentifier(kind, "bad format")
    if number[17] != ric.calc_check_digit(number):
        raise InvalidIdentifier(kind, "bad checksum")
    if number[:2] not in _PROVINCE_CODES:
        raise InvalidIdentifier(kind, "unknown region code")
    try:
        birth_date = ric.get_birth_date(number)  # stdnum: the calendar date must exist
    except stdnum_exceptions.ValidationError:
        raise InvalidIdentifier(kind, "bad birth date") from None
    if birth_date > (today or date.today()):
        raise InvalidIdentifier(kind, "birth date in the future")
    if birth_date < _EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(kind, "implausible birth date (before 1900)")
    return number


def normalize_subject_id(
    subject_type: SubjectType, value: str, *, today: date | None = None
) -> str:
    """Validate a credit subject's identifier: a USCC for enterprises, a GB 11643 number for citizens."""
    if subject_type == "enterprise":
        return normalize_uscc(value)
    if subject_type == "citizen":
        return normalize_resident_id(value, today=today)
    raise InvalidIdentifier("subject_type", "unknown subject type")


# --------------------------------------------------------------------------------------------
# Masking (public and log output). Enterprise names and codes are public: never masked.
# --------------------------------------------------------------------------------------------

# Separators inside a name: spaces, the interpunct used in transliterated and minority names
# (阿沛·阿旺晋美), hyphens, dots and apostrophes in Latin names.
_NAME_SEPARATORS = re.compile(r"([\s·•・.\-'’]+)")


def mask_name(name: str) -> str:
    """Mask a person's name: keep the first character (and the last, for three or more).

    "张三" -> "张*", "张三丰" -> "张*丰", "欧阳娜娜" -> "欧**娜". A one-character name becomes "*"
    (keeping it would publish the whole name). Names with separators ("John Smith",
    "阿沛·阿旺晋美") keep the separators and the first character of each part only:
    "J*** S****", "阿*·阿***". Empty input returns "".
    """
    name = name.strip()
    if not name:
        return ""
    if _NAME_SEPARATORS.search(name):
        return "".join(
            part if _NAME_SEPARATORS.fullmatch(part) else part[0] + "*" * (len(part) - 1)
            for part in _NAME_SEPARATORS.split(name)
            if part
        )
    if len(name) == 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_resident_id(value: str) -> str:
    """Keep the first 4 (province + city) and the last 4 characters: "2101**********1234".

    Never raises and does not validate (it is used on log lines); too-short values are fully
    starred so nothing short enough to be guessed is revealed.
    """
    number = "".join(str(value).split()).replace("-", "").upper()
    if len(number) < 12:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# --------------------------------------------------------------------------------------------
# Encryption at rest and in events
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Log scrubbing
# --------------------------------------------------------------------------------------------

# 17 digits + digit/X. The boundaries are ASCII letters/digits only: Python's \b treats Chinese
# characters as word characters, so "身份证号210102…1234，" would not match with \b. Checksums are
# not verified: over-masking a log line is cheaper than leaking an ID number.
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def scrub(text: str) -> str:
    """Replace every 18-character resident ID number in free text by its masked form."""
    return _RESIDENT_ID_IN_TEXT.sub(lambda m: mask_resident_id(m.group(0)), text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 18:
        return scrub(str(value))  # an ID number stored as an int still leaks
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if type(value) is tuple:
        return tuple(_scrub_value(v) for v in value)
    return value


def scrub_processor(logger: Any, method_name: str, event_dict: Any) -> Any:
    """structlog processor: scrub every string value (recursively into dicts, lists, tuples).

    Returns a new dict and never mutates the caller's objects. Place it after
    ``format_exc_info``/``StackInfoRenderer`` (so tracebacks are strings by then) and just before
    the renderer. Arbitrary objects are left alone: log their fields, not the object.
    """
    return {key: _scrub_value(value) for key, value in event_dict.items()}
