"""Demo credentials for the development stack, written to ``var/dev-credentials.json`` (DESIGN §6)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from jointcredit_common.auth import generate_token


def demo_principals(agency_codes: list[str]) -> list[dict[str, Any]]:
    spec = yaml.safe_load(resources.files(__package__).joinpath("demo-principals.yaml").read_text(encoding="utf-8"))
    principals = [{"role": "department", **d} for d in spec["departments"]]
    principals += [{"role": "agency", "principal": code, "scopes": [code]} for code in agency_codes]
    principals += [{"role": "reviewer", **r} for r in spec["reviewers"]]
    principals += [{"role": "admin", **a} for a in spec["admins"]]
    return principals


def ensure_dev_credentials(path: Path, agency_codes: list[str]) -> list[dict[str, Any]]:
    """Keep existing tokens stable across restarts; add any principal that is missing."""
    existing = json.loads(path.read_text()) if path.exists() else []
    by_key = {(c["role"], c["principal"]): c for c in existing}
    result = []
    for principal in demo_principals(agency_codes):
        current = by_key.get((principal["role"], principal["principal"]))
        token = current["token"] if current else generate_token(principal["role"])
        result.append({**principal, "token": token})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return result
