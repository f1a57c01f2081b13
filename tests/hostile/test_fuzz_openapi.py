"""Schemathesis against every service's OpenAPI document, in-process (ASGI) on the real database and broker.

Each service's app is handed to schemathesis' ASGI transport. The transport runs the app's lifespan (migrations,
credentials, outbox relay, consumers) on its own event loop for the length of the test and sends every generated
request to it. Each operation is called with a credential allowed to call it (the expected-access table in
conftest.py). Per operation, schemathesis' own test first sends boundary values of every parameter and body
field (its coverage phase), then random valid and invalid data (positive and negative generation). Every
response must not be a 5xx and must have a documented status code, content type, body schema and headers. A
stateful run then follows the links schemathesis infers between operations (an id one returns, another takes).
FastAPI declares no OpenAPI links, so these come from schemathesis' dependency analysis of the schemas.

There is one test per service, so each service's lifespan runs once (schemathesis' pytest plugin ends ASGI
lifespans after each test), and one subtest per operation. The run is deterministic: a fixed seed, derandomized,
so every run sends the same requests. It is sized to finish the four services in about two and a half minutes on
a 2-core machine. ``JC_FUZZ_EXAMPLES`` and ``JC_FUZZ_STATEFUL_EXAMPLES`` raise the budget for a longer local run.
"""

from __future__ import annotations

import os
import time
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test  # what schema.parametrize() runs per operation
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jointcredit_common.devstack import SERVICES
from jointcredit_common.testing.plugin import token_of

pytestmark = [
    pytest.mark.hostile,
    # schemathesis' strategies draw from `random`, which Hypothesis seeds per example: derandomized runs repeat.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = int(os.environ.get("JC_FUZZ_EXAMPLES", "25"))
STATEFUL_EXAMPLES = int(os.environ.get("JC_FUZZ_STATEFUL_EXAMPLES", "20"))
CONTRACT = [status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]
CHECKS = [not_a_server_error, *CONTRACT]
# /readyz answers 503 by design while a dependency is away (documented): the one 5xx that is not a server error.
CHECKS_BY_PATH = {"/readyz": CONTRACT}
CONFIG = schemathesis.Config.from_dict({
    "seed": 20200221,  # the notice's date
    "suppress-health-check": ["all"],
    "generation": {"mode": "all", "deterministic": True, "max-examples": EXAMPLES, "database": "none", "allow-x00": True},
})
STATEFUL_SETTINGS = hypothesis.settings(
    max_examples=STATEFUL_EXAMPLES, stateful_step_count=6, derandomize=True, deadline=None, database=None,
    suppress_health_check=list(hypothesis.HealthCheck), report_multiple_bugs=False,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
)


class Target:
    """A started service app and the credential each of its operations is called with."""

    def __init__(self, name: str, app: Any, tokens: dict[str, str], policy: Any) -> None:
        self.name, self.app, self.tokens, self.policy = name, app, tokens, policy
        self.requests = 0

    def call_and_validate(self, case: schemathesis.Case) -> Any:
        role = self.policy.fuzz_role(self.name, case.operation.method.upper(), case.operation.path)
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        self.requests += 1
        return case.call_and_validate(app=self.app, headers=headers, checks=CHECKS_BY_PATH.get(case.operation.path, CHECKS))


def _fuzz_operation(target: Target, schema: Any, operation: Any) -> None:
    """Schemathesis' own per-operation test (what ``schema.parametrize()`` builds): the operation's examples,
    then boundary values of every parameter and body field (coverage), then random valid and invalid data."""

    def call(case: schemathesis.Case) -> None:
        target.call_and_validate(case)

    build_operation_test(config=schema.config, operation=operation, test_func=call, given_kwargs={},
                         feedback=FeedbackSources())()


def _stateful(target: Target, schema: Any) -> None:
    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def call(self, case: schemathesis.Case, **kwargs: Any) -> Any:
            return target.call_and_validate(case)

        def validate_response(self, response: Any, case: schemathesis.Case, **kwargs: Any) -> None:
            pass  # validated in call()

    Sequences.run(settings=STATEFUL_SETTINGS)


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_operation_answers_within_its_documented_contract(
    name: str, service_app: Any, jc_credentials: Any, access_policy: Any, subtests: pytest.Subtests,
) -> None:
    # One client sending as fast as it can: the rate limit has tests of its own (test_rate_limits.py).
    app = service_app(name, rate_limit_per_second=0, anonymous_rate_limit_per_second=0)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)  # starts the lifespan for this test
    with asgi.get_client(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:  # consumers have joined their groups
            assert time.monotonic() < deadline, f"{name} never became ready"
            time.sleep(0.2)
    tokens = {role: token_of(jc_credentials[1], role, principal) for role, principal in access_policy.principals.items()}
    target = Target(name, app, tokens, access_policy)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, f"{name}: no operations in the OpenAPI document"
    started = time.monotonic()
    for operation in operations:
        with subtests.test(msg=operation.label):
            _fuzz_operation(target, schema, operation)
    with subtests.test(msg="stateful sequences"):
        _stateful(target, schema)
    print(f"FUZZ {name}: {len(operations)} operations, {target.requests} requests, {time.monotonic() - started:.1f} s")
