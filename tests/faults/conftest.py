"""Fault-injection suite (``make test-faults``): its own PostgreSQL, broker and services, because it restarts them."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the load mix lives in bench/ (bench.mix), next to tests/
    sys.path.insert(0, str(ROOT))

from tests.faults.stack import FaultStack  # noqa: E402 - needs the path above

PASSED = pytest.StashKey[bool]()  # the test's outcome, for its fixture's teardown


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[PASSED] = report.passed
    return report


@pytest.fixture
def fault_stack(request: pytest.FixtureRequest) -> Iterator[FaultStack]:
    """The stack, stopped afterwards; its directory (logs, ~400 MB of PostgreSQL data) is kept only if the test failed."""
    work = Path(tempfile.mkdtemp(prefix="jc-faults-"))
    stack = FaultStack.start(work)
    try:
        yield stack
    finally:
        stack.close()
        if request.node.stash.get(PASSED, False):
            shutil.rmtree(work, ignore_errors=True)
