"""Validating and normalising credit subjects' identifiers: USCC (GB 32100) and resident ID numbers (GB 11643)."""

from __future__ import annotations

import unicodedata
from datetime import date

from stdnum import exceptions as stdnum_exceptions
from stdnum.cn import ric, uscc
from stdnum.util import clean

from jointcredit_common.domain import SubjectType



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
