"""Test helpers of the ingest service (importable from its tests under pytest's importlib mode)."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric


def resident_id(n: int, *, born: date = date(1985, 3, 7), region: str = "210202") -> str:
    """A valid GB 11643 number. (``jointcredit_common.testing.factories.resident_id`` computes the check character
    over a 17-character string, but stdnum's ``calc_check_digit`` expects the check position included, so ten in
    eleven of its numbers fail the checksum; reported to the platform owner.)"""
    body = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")
