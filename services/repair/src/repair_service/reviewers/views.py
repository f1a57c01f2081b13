"""Reviewers' tokens (admin): a reviewer is a person; the scopes an admin chooses are the review stages (三(一)) that
person may decide. Separation of duties between stages is enforced per application (repairs/service.py)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from jointcredit_common.credentials import PERSON_PATTERN, any_name, credentials_router


def reviewer_tokens_router(stages: Sequence[str]) -> APIRouter:
    return credentials_router(role="reviewer", path="/v1/admin/reviewers/{name}/tokens", principal_param="name",
                              principal_pattern=PERSON_PATTERN, principal_check=any_name([]), scope_choices=stages)
