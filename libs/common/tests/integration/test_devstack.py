"""The embedded PostgreSQL of `make run` starts from a relative data directory (the default `var/`): postgres
resolves relative paths against its own data directory, so the socket directory must be made absolute first."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

from jointcredit_common.devstack import EmbeddedPostgres, free_port


def test_embedded_postgres_starts_from_a_relative_data_directory(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        postgres = EmbeddedPostgres(Path("var") / "postgres", free_port()).start()
    finally:
        os.chdir(cwd)
    try:
        assert postgres.data_dir.is_absolute()

        async def ask() -> int:
            conn = await asyncpg.connect(postgres.admin_url)
            try:
                return await conn.fetchval("SELECT 41 + 1")
            finally:
                await conn.close()

        assert asyncio.run(ask()) == 42
    finally:
        postgres.stop()
