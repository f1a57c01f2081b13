"""Test helpers of the ingest service (importable from its tests under pytest's importlib mode)."""

from jointcredit_common.testing.factories import resident_id

__all__ = ["resident_id"]
