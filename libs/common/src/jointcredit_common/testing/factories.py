"""Valid identifiers for tests: real GB 32100 / GB 11643 check digits, so validation is exercised, not bypassed."""

from __future__ import annotations

from datetime import date

from stdnum.cn import ric, uscc as stdnum_uscc


def uscc(n: int, *, region: str = "210200") -> str:
    """A valid Unified Social Credit Code (registered in Dalian, 210200) numbered ``n``."""
    body = f"91{region}{n:09d}"[:17]
    return body + stdnum_uscc.calc_check_digit(body)


def resident_id(n: int, *, born: date = date(1985, 3, 7), region: str = "210202") -> str:
    """A valid resident identity number (Dalian Zhongshan district, 210202) with sequence ``n``."""
    body = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum expects the check position present (and ignores it)
