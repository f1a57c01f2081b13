"""Test-only fault injection: die like ``kill -9`` at a named point, so crash tests hit the exact window.

Refused in production by the settings. A point fires once per process (the process dies).
"""

from __future__ import annotations

import os
import signal

_configured: set[str] = set()


def configure(spec: str | None) -> None:
    _configured.clear()
    if spec:
        _configured.update(p.strip() for p in spec.split(",") if p.strip())


def crash_point(name: str) -> None:
    if name in _configured:
        os.kill(os.getpid(), signal.SIGKILL)
