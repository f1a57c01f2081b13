"""``python -m jointcredit_common.devstack run``: the whole system on one machine (what ``make run`` does).

Existing servers can stand in for the embedded ones: ``JC_DEV_POSTGRES_URL`` (an admin libpq URL) and
``JC_KAFKA_BOOTSTRAP_SERVERS``. Everything else is created under ``var/``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from jointcredit_common.devstack import (
    SERVICES,
    EmbeddedKafka,
    EmbeddedPostgres,
    ServiceProcess,
    stack_env,
    start_services,
)
from jointcredit_common.devstack.credentials import ensure_dev_credentials


def _agency_codes() -> list[str]:
    from jointcredit_common.catalog import load_catalog

    return [agency.code for agency in load_catalog().agencies]


def run(var_dir: Path, services: list[str]) -> int:
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "log").mkdir(exist_ok=True)
    started = time.monotonic()
    postgres = kafka = None
    procs: list[ServiceProcess] = []

    def shutdown(*_: object) -> None:
        print("\nstopping …", flush=True)
        for proc in reversed(procs):
            proc.stop()
        if kafka:
            kafka.stop()
        if postgres:
            postgres.stop()
        print("stopped.", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)

    admin_url = os.environ.get("JC_DEV_POSTGRES_URL")
    if not admin_url:
        port = int(os.environ.get("JC_DEV_POSTGRES_PORT", "55432"))
        print(f"starting embedded PostgreSQL on 127.0.0.1:{port} (data in {var_dir / 'postgres'}) …", flush=True)
        postgres = EmbeddedPostgres(var_dir / "postgres", port).start()
        admin_url = postgres.admin_url
    bootstrap = os.environ.get("JC_KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        port = int(os.environ.get("JC_DEV_KAFKA_PORT", "9092"))
        print(f"starting embedded Kafka-protocol broker (tansu) on 127.0.0.1:{port} …", flush=True)
        kafka = EmbeddedKafka(port, log_path=var_dir / "log" / "broker.log").start()
        bootstrap = kafka.bootstrap

    credentials_path = var_dir / "dev-credentials.json"
    ensure_dev_credentials(credentials_path, _agency_codes())
    # Each of these may be overridden from the environment of `make run`.
    overrides = {k: os.environ[k] for k in ("JC_LOG_JSON", "JC_CONSUMER_SESSION_TIMEOUT_MS", "JC_CONSUMER_HEARTBEAT_INTERVAL_MS")
                 if k in os.environ}
    procs.extend(start_services(admin_url, stack_env(bootstrap, credentials_path, **overrides), names=services,
                                log_dir=var_dir / "log").values())

    print(f"\njointcredit is up in {time.monotonic() - started:.1f}s\n")
    for proc in procs:
        print(f"  {proc.name:<10} {proc.url}/docs   (health {proc.url}/readyz)")
    print(f"\n  broker      {bootstrap}")
    print(f"  credentials {credentials_path}  (demo tokens: department, agency, reviewer, admin)")
    print(f"  logs        {var_dir / 'log'}/<service>.log\n\nCtrl-C stops everything.", flush=True)
    while True:
        for proc in procs:
            if proc.proc and proc.proc.poll() is not None:
                print(f"{proc.name} exited with {proc.proc.returncode}; restarting (see its log)", flush=True)
                proc.start()
        time.sleep(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(prog="jointcredit-devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start PostgreSQL, the broker and the services")
    run_parser.add_argument("--var", type=Path, default=Path("var"))
    run_parser.add_argument("--services", default=",".join(SERVICES))
    args = parser.parse_args()
    if args.command == "run":
        return run(args.var, [s for s in args.services.split(",") if s])
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
