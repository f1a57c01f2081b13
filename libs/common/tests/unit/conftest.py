"""Unit fixtures for the rating policy core: the bundled catalog only (no servers)."""

import pytest
from jointcredit_common.catalog import Catalog, load_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()
