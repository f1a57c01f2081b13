"""The policy catalog (大信办字〔2020〕4号 as data) and its loader."""

from jointcredit_common.catalog.models import (
    Agency,
    Behavior,
    Catalog,
    CatalogError,
    Measure,
    UnknownCodeError,
    load_catalog,
    parse_catalog,
)

__all__ = [
    "Agency",
    "Behavior",
    "Catalog",
    "CatalogError",
    "Measure",
    "UnknownCodeError",
    "load_catalog",
    "parse_catalog",
]
