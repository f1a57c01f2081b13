"""Hostile-input suite: who may call what (the expected-access table), and each service's app built for a test.

The table is the access policy of every endpoint of the four services, read from their code and READMEs. It is
the single source for the authz matrix (tests/hostile/test_authz_matrix.py) and for the credential the fuzzer
calls each operation with (tests/hostile/test_fuzz_openapi.py). A route that is not in it fails the matrix.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from jointcredit_common.devstack import SERVICES
from jointcredit_common.testing.factories import resident_id, uscc
from jointcredit_common.testing.plugin import consumers_wanted, settings_from_env

ROLES = ("anonymous", "department", "agency", "reviewer", "admin")
PUBLIC = frozenset(ROLES)
ADMIN = frozenset({"admin"})

# The principal each role acts as, and its own agency (an agency token reads only its own agency's data).
PRINCIPALS = {"department": "market_regulation", "agency": "xinyidai_banks", "reviewer": "reviewer_initial",
              "admin": "ops_admin"}
OTHER_AGENCY = "airlines"


@dataclass(frozen=True)
class Rule:
    """Who gets past authentication and authorisation (anything but 401/403) for one route, and why."""

    allowed: frozenset[str]
    why: str
    path_params: dict[str, str] = field(default_factory=dict)  # overrides of PATH_PARAMS for this variant


def rule(*roles: str, why: str, **path_params: str) -> Rule:
    return Rule(frozenset(roles), why, path_params)


# Values for path parameters in the matrix: well-formed, naming nothing that exists unless it must (agency codes).
PATH_PARAMS = {
    "report_id": "00000000-0000-4000-8000-000000000001",
    "commitment_id": "00000000-0000-4000-8000-000000000002",
    "code": PRINCIPALS["department"],
    "credential_id": "00000000-0000-4000-8000-000000000003",
    "dead_letter_id": "1",
    "subject_type": "enterprise",
    "subject_id": uscc(7001),
    "verification_id": "JCR-20260101-0000000000",
    "list_key": "dishonest",
    "record_id": "00000000-0000-4000-8000-000000000004",
    "objection_id": "00000000-0000-4000-8000-000000000005",
    "agency": PRINCIPALS["agency"],
    "measure_id": "00000000-0000-4000-8000-000000000006",
    "subscription_id": "00000000-0000-4000-8000-000000000007",
    "delivery_id": "1",
    "application_id": "00000000-0000-4000-8000-000000000008",
    "day": "2026-03-02",
    "name": PRINCIPALS["admin"],
}

_PLATFORM = {
    ("GET", "/healthz"): rule(*PUBLIC, why="liveness probe"),
    ("GET", "/readyz"): rule(*PUBLIC, why="readiness probe"),
    ("GET", "/metrics"): rule(*PUBLIC, why="Prometheus scrape (restrict at the network, not by credential)"),
    ("GET", "/v1/admin/dead-letters"): rule("admin", why="ops: failed events carry payloads"),
    ("POST", "/v1/admin/dead-letters/{dead_letter_id}:redrive"): rule("admin", why="ops"),
    ("POST", "/v1/admin/outbox:replay"): rule("admin", why="ops: re-publishes events"),
}
_CREDENTIALED = ("department", "agency", "reviewer", "admin")


def _credential_routes(service: str, base: str, **path_params: str) -> dict[tuple[str, str, str], Rule]:
    """The common credential router under ``base``: list, issue, rotate, revoke — admins only."""
    why = "credentials (jointcredit_common.credentials)"
    return {(service, method, path): rule("admin", why=why, **path_params) for method, path in (
        ("GET", base), ("POST", base), ("POST", base + "/{credential_id}:rotate"), ("POST", base + "/{credential_id}:revoke"))}


_ADMIN_CREDENTIALS = {k: r for service in SERVICES for k, r in _credential_routes(service, "/v1/admin/admins/{name}/tokens").items()}
REPORTER_OR_OFFICE = "the reporting department (others 403 on an existing record) or the credit office"

ACCESS: dict[tuple[str, str, str], Rule | tuple[Rule, ...]] = {
    **{(service, method, path): r for service in SERVICES for (method, path), r in _PLATFORM.items()},
    **_ADMIN_CREDENTIALS,
    # ingest: departments report; admins run the registry and read everything; commitments are public
    ("ingest", "POST", "/v1/reports"): rule("department", why="only a registered department reports (admins do not)"),
    ("ingest", "POST", "/v1/reports:batch"): rule("department", why="as single reports"),
    ("ingest", "GET", "/v1/reports"): rule("department", "admin", why="a department its own, an admin all"),
    ("ingest", "GET", "/v1/reports/{report_id}"): rule("department", "admin", why="a department its own, an admin all"),
    ("ingest", "POST", "/v1/reports/{report_id}/withdraw"): rule("department", why="only the reporting department"),
    ("ingest", "POST", "/v1/commitments"): rule("department", why="departments file 承诺书"),
    ("ingest", "GET", "/v1/public/commitments"): rule(*PUBLIC, why="the notice asks for their publicity"),
    ("ingest", "GET", "/v1/public/commitments/{commitment_id}"): rule(*PUBLIC, why="public"),
    ("ingest", "GET", "/v1/departments/me"): rule("department", why="the caller's own registry entry"),
    ("ingest", "GET", "/v1/admin/departments"): rule("admin", why="registry"),
    ("ingest", "POST", "/v1/admin/departments"): rule("admin", why="registry"),
    ("ingest", "GET", "/v1/admin/departments/{code}"): rule("admin", why="registry"),
    ("ingest", "PATCH", "/v1/admin/departments/{code}"): rule("admin", why="registry"),
    **_credential_routes("ingest", "/v1/admin/departments/{code}/tokens"),
    ("ingest", "GET", "/v1/admin/audit"): rule("admin", why="the audit trail names every actor"),
    # rating: enterprise credit information is public, a citizen's needs a credential; objections by the reporter
    ("rating", "GET", "/v1/catalog"): rule(*PUBLIC, why="the policy in force is public"),
    ("rating", "GET", "/v1/subjects/{subject_type}/{subject_id}"): (
        rule(*PUBLIC, why="enterprise credit information is public"),
        rule(*_CREDENTIALED, why="a citizen's needs a credential (masked)", subject_type="citizen",
             subject_id=resident_id(7002)),
    ),
    ("rating", "GET", "/v1/subjects/{subject_type}/{subject_id}/report"): (
        rule(*PUBLIC, why="三(一): free credit reports for enterprises"),
        rule(*_CREDENTIALED, why="a citizen's needs a credential", subject_type="citizen", subject_id=resident_id(7003)),
    ),
    ("rating", "GET", "/v1/subjects/{subject_type}/{subject_id}/report.pdf"): (
        rule(*PUBLIC, why="三(一): free credit reports for enterprises"),
        rule(*_CREDENTIALED, why="a citizen's needs a credential", subject_type="citizen", subject_id=resident_id(7004)),
    ),
    ("rating", "GET", "/v1/public/credit-reports/{verification_id}"): rule(*PUBLIC, why="anyone verifies a report"),
    ("rating", "GET", "/v1/public/lists/{list_key}"): rule(*PUBLIC, why="publicity of the lists (masked)"),
    ("rating", "POST", "/v1/records/{record_id}/objections"): rule("department", "admin", why=REPORTER_OR_OFFICE),
    ("rating", "GET", "/v1/records/{record_id}/objections"): rule("department", "admin", why=REPORTER_OR_OFFICE),
    ("rating", "POST", "/v1/records/{record_id}/objections/{objection_id}:decide"): rule("admin", why="the office decides"),
    ("rating", "GET", "/v1/objections"): rule("admin", why="the credit office's queue"),
    **_credential_routes("rating", "/v1/admin/departments/{code}/tokens"),
    # sanctions: an agency its own measures only; the agency directory and the event contract are public
    ("sanctions", "GET", "/v1/agencies"): rule(*PUBLIC, why="directory of implementing agencies and channels"),
    ("sanctions", "GET", "/v1/agencies/{agency}"): rule(*PUBLIC, why="directory"),
    **_credential_routes("sanctions", "/v1/agencies/{agency}/tokens"),
    ("sanctions", "GET", "/v1/agencies/{agency}/measures"): (
        rule("agency", "admin", why="the agency's own feed"),
        rule("admin", why="another agency's feed is not the caller's", agency=OTHER_AGENCY),
    ),
    ("sanctions", "GET", "/v1/measures"): rule("agency", "admin", why="an agency sees its own only"),
    ("sanctions", "GET", "/v1/measures/{measure_id}"): rule("agency", "admin", why="an agency its own only"),
    ("sanctions", "POST", "/v1/measures/{measure_id}/feedback"): rule("agency", why="only the implementing agency reports"),
    ("sanctions", "GET", "/v1/agencies/{agency}/stats"): (
        rule("agency", "admin", why="the agency's own statistics"),
        rule("admin", why="another agency's statistics", agency=OTHER_AGENCY),
    ),
    ("sanctions", "POST", "/v1/agencies/{agency}/webhooks"): (
        rule("agency", "admin", why="the agency registers its own webhooks"),
        rule("admin", why="not another agency's", agency=OTHER_AGENCY),
    ),
    ("sanctions", "GET", "/v1/agencies/{agency}/webhooks"): (
        rule("agency", "admin", why="the agency's own webhooks"),
        rule("admin", why="not another agency's", agency=OTHER_AGENCY),
    ),
    ("sanctions", "DELETE", "/v1/webhooks/{subscription_id}"): rule("agency", "admin", why="the owning agency"),
    ("sanctions", "GET", "/v1/webhooks/{subscription_id}/deliveries"): rule("agency", "admin", why="the owning agency"),
    ("sanctions", "GET", "/v1/webhooks/{subscription_id}/deliveries/{delivery_id}"): rule("agency", "admin", why="the owner"),
    ("sanctions", "POST", "/v1/webhooks/{subscription_id}/deliveries:redrive"): rule("agency", "admin", why="the owning agency"),
    ("sanctions", "GET", "/asyncapi"): rule(*PUBLIC, why="the event contract for agencies"),
    ("sanctions", "GET", "/asyncapi.yaml"): rule(*PUBLIC, why="the event contract for agencies"),
    # repair: departments (or admins) file for a subject, reviewers review, the working-day calendar is public
    ("repair", "POST", "/v1/repairs"): rule("department", "admin", why="a department or the credit office files"),
    ("repair", "GET", "/v1/repairs"): rule("department", "reviewer", "admin", why="a department its own; reviewers all"),
    ("repair", "GET", "/v1/repairs/{application_id}"): rule("department", "reviewer", "admin", why="as the list"),
    ("repair", "POST", "/v1/repairs/{application_id}/reviews"): rule("reviewer", why="the review group's job, not admins'"),
    ("repair", "GET", "/v1/calendar/add"): rule(*PUBLIC, why="public calculation"),
    ("repair", "GET", "/v1/calendar/days/{day}"): rule(*PUBLIC, why="public calculation"),
    ("repair", "GET", "/v1/calendar/overrides"): rule(*PUBLIC, why="the city's published schedule"),
    ("repair", "GET", "/v1/calendar/coverage"): rule(*PUBLIC, why="which years the calendar covers, and how"),
    ("repair", "PUT", "/v1/calendar/overrides/{day}"): rule("admin", why="changes deadlines"),
    ("repair", "DELETE", "/v1/calendar/overrides/{day}"): rule("admin", why="changes deadlines"),
    **_credential_routes("repair", "/v1/admin/departments/{code}/tokens"),
    **_credential_routes("repair", "/v1/admin/reviewers/{name}/tokens", name=PRINCIPALS["reviewer"]),
}


class AccessPolicy:
    """The table and its helpers, handed to tests as the ``access_policy`` fixture (test modules do not import
    each other under ``--import-mode=importlib``)."""

    roles = ROLES
    table = ACCESS
    path_params = PATH_PARAMS
    principals = PRINCIPALS

    @staticmethod
    def rules_of(service: str, method: str, path: str) -> tuple[Rule, ...]:
        entry = ACCESS[(service, method, path)]
        return entry if isinstance(entry, tuple) else (entry,)

    @staticmethod
    def service(name: str) -> tuple[Callable[..., Any], type]:
        """(create_app, settings class) of a service."""
        return load_service(name)

    @classmethod
    def fuzz_role(cls, service: str, method: str, path: str) -> str | None:
        """The credential the fuzzer calls an operation with: the broadest role its first rule allows."""
        allowed = cls.rules_of(service, method, path)[0].allowed
        return next((role for role in ("admin", "department", "agency", "reviewer") if role in allowed), None)


@pytest.fixture(scope="session")
def access_policy() -> type[AccessPolicy]:
    return AccessPolicy


def load_service(name: str) -> tuple[Callable[..., Any], type]:
    """(create_app, settings class) of a service."""
    main = importlib.import_module(f"{name}_service.main")
    settings_module = importlib.import_module(f"{name}_service.settings")
    return main.create_app, getattr(settings_module, f"{name.capitalize()}Settings")


@pytest.fixture
def service_app(jc_service_env: Callable[[str], dict[str, str]], request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``service_app("ingest", rate_limit_per_second=0)`` → the service's app (lifespan not started) for this
    test's databases and broker, configured from the same environment as ``jc_app`` (consumers likewise only for
    a test marked ``consumers``)."""
    run_consumers = consumers_wanted(request)

    def make(name: str, **overrides: Any) -> Any:
        overrides.setdefault("run_consumers", run_consumers)
        create_app, settings_cls = load_service(name)
        return create_app(settings_from_env(settings_cls, jc_service_env(name), **overrides))

    return make
