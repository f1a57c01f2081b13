"""Processes of the dev stack: free ports, waiting for a port, children that die with their parent."""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
import subprocess
import time




def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


def _die_with_parent(sig: int) -> None:
    """Children die with their parent (Linux), so an aborted test run or Ctrl-C never leaks servers."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG


def _preexec(sig: int):  # noqa: ANN202
    def run() -> None:
        os.setsid()
        _die_with_parent(sig)

    return run
