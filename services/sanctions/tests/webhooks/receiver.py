"""A real HTTP receiver for webhook tests: verifies signatures on its own (not with the sender's code), can be down
(port closed), failing (5xx) or up, and records what it accepted in arrival order."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Receiver:
    port: int
    secret: str
    failing_status: int | None = None  # set: answer every request with this status
    accepted: list[dict] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jointcredit/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's API
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, reason = receiver.handle(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(reason.encode())

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if self.failing_status is not None:
            return self.failing_status, "receiver is having a bad day"
        signature = headers.get("X-JointCredit-Signature", "")
        try:
            parts = dict(item.split("=", 1) for item in signature.split(","))
            timestamp = int(parts["t"])
        except (KeyError, ValueError):
            self.rejected.append("malformed signature")
            return 401, "malformed signature"
        expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")) or abs(time.time() - timestamp) > 300:
            self.rejected.append("bad signature")
            return 401, "bad signature"
        event = json.loads(body)
        if event["id"] != headers.get("X-JointCredit-Event-Id") or headers.get("X-JointCredit-Timestamp") != str(timestamp):
            self.rejected.append("header mismatch")
            return 400, "header mismatch"
        with self._lock:
            self.accepted.append(event)
        return 204, ""
