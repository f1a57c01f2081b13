"""Masking personal data for public and log output."""

from __future__ import annotations

import re


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
