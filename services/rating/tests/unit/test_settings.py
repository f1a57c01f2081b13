"""The end of the emergency response is a decision, not a silence (closing clause: "新冠肺炎疫情应急响应结束后终止"):
RATING_EMERGENCY_ENDS_ON, read from the environment as the process reads it."""

from __future__ import annotations

import base64
import json
import os
from datetime import date

import pytest
from pydantic import ValidationError

from jointcredit_common.events.provenance import public_key_b64
from rating_service.settings import RatingSettings

_SIGNING_SEED = os.urandom(32)
PRODUCTION = {
    "JC_ENVIRONMENT": "production", "RATING_DATABASE_URL": "postgresql+asyncpg://rating@db/rating",
    "JC_PII_KEYS": '{"k1": "%s"}' % base64.b64encode(os.urandom(32)).decode(), "JC_PII_ACTIVE_KEY": "k1",
    "JC_PII_HASH_KEY": base64.b64encode(os.urandom(32)).decode(), "JC_ADMIN_BOOTSTRAP_TOKEN_SHA256": "ab" * 32,
    # production also needs this service's own event signing key and the producers' public keys (issue 14 item 1)
    "RATING_EVENT_SIGNING_KEY": base64.b64encode(_SIGNING_SEED).decode(), "RATING_EVENT_SIGNING_KEY_ID": "rating-test",
    "JC_EVENT_TRUSTED_KEYS": json.dumps({"rating-test": {"service": "rating", "public_key": public_key_b64(_SIGNING_SEED)}}),
}


@pytest.fixture
def environ(monkeypatch):
    def set_env(**values: str) -> None:
        for key, value in (PRODUCTION | values).items():
            monkeypatch.setenv(key, value)

    monkeypatch.delenv("RATING_EMERGENCY_ENDS_ON", raising=False)
    return set_env


def test_production_refuses_to_start_without_a_decision_on_the_end_of_the_emergency_response(environ):
    environ()
    with pytest.raises(ValidationError, match="no RATING_EMERGENCY_ENDS_ON"):
        RatingSettings()


@pytest.mark.parametrize("value, in_force", [("not_ended", None), ("2023-01-08", date(2023, 1, 8)),
                                             ("2020-02-21", date(2020, 2, 21))])
def test_production_starts_with_a_date_or_an_explicit_not_ended(environ, value, in_force):
    environ(RATING_EMERGENCY_ENDS_ON=value)
    settings = RatingSettings()
    assert settings.emergency_end_date == in_force
    assert settings.emergency_ends_on == (in_force or "not_ended")


@pytest.mark.parametrize("environment", ["production", "development"])
def test_a_date_before_the_notice_took_effect_is_refused_everywhere(environ, environment):
    environ(JC_ENVIRONMENT=environment, RATING_EMERGENCY_ENDS_ON="2020-01-31")  # a typo of 2021-01-31, say
    with pytest.raises(ValidationError, match="before the notice took effect"):
        RatingSettings()


@pytest.mark.parametrize("value", ["", "never", "ended", "REPLACE_ME_YYYY-MM-DD_or_not_ended", "2023-13-01"])
def test_anything_else_is_refused(environ, value):
    environ(RATING_EMERGENCY_ENDS_ON=value)
    with pytest.raises(ValidationError):
        RatingSettings()


def test_development_may_leave_it_unset(environ):
    environ(JC_ENVIRONMENT="development")
    settings = RatingSettings()
    assert settings.emergency_ends_on is None and settings.emergency_end_date is None
