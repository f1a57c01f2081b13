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

from jointcredit_common.pii.crypto import PiiCipher, PiiDecryptionError, PiiHasher, PiiKeyError, generate_key
from jointcredit_common.pii.identifiers import InvalidIdentifier, normalize_resident_id, normalize_subject_id, normalize_uscc
from jointcredit_common.pii.masking import mask_name, mask_resident_id
from jointcredit_common.pii.scrubbing import scrub, scrub_processor

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
