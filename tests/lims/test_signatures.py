"""Electronic signatures: re-authentication, fixed meanings, binding to content (SPEC §8)."""

from __future__ import annotations

import pytest

from lims.auth import services
from lims.auth.models import Meaning
from lims.db import db
from lims.errors import BadRequest, Locked, Unauthorized
from tests.fixtures.users import TEST_PASSWORD


@pytest.fixture
def signer(app, make_user):
    user_id, _ = make_user("qa", username="quinn", full_name="Quinn Quality")
    with app.app_context():
        yield services.get_user(user_id)


def test_signature_records_name_time_meaning_and_content(signer):
    content = {"batch": "B-1", "status": "qc_review"}
    signature = services.sign(signer, TEST_PASSWORD, "approval", "batch", 1, content)
    assert signature.printed_name == "Quinn Quality"
    assert signature.meaning == "approval"
    assert signature.signed_at.tzinfo is not None
    assert "Quinn Quality" in signature.manifestation and "approval" in signature.manifestation
    assert services.signature_holds(signature, content)
    assert not services.signature_holds(signature, {**content, "status": "changed"})


def test_wrong_password_is_refused_and_counted(signer):
    with pytest.raises(Unauthorized):
        services.sign(signer, "wrong-password", "approval", "batch", 1, {})
    assert signer.failed_logins == 1


def test_repeated_wrong_signatures_lock_the_account(signer):
    for _ in range(4):
        with pytest.raises(Unauthorized):
            services.sign(signer, "wrong-password", "approval", "batch", 1, {})
    with pytest.raises(Locked):
        services.sign(signer, "wrong-password", "approval", "batch", 1, {})
    with pytest.raises(Locked):
        services.sign(signer, TEST_PASSWORD, "approval", "batch", 1, {})


def test_meaning_must_come_from_the_fixed_list(signer):
    with pytest.raises(BadRequest) as refused:
        services.sign(signer, TEST_PASSWORD, "looks good", "batch", 1, {})
    assert "meaning" in refused.value.details["fields"]
    with pytest.raises(BadRequest):
        services.sign(signer, TEST_PASSWORD, "review", "batch", 1, {},
                      allowed={Meaning.approval})


def test_signature_is_audited(signer):
    from sqlalchemy import select

    from lims.audit import AuditEntry

    services.sign(signer, TEST_PASSWORD, "approval", "batch", 7, {"a": 1})
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "signature")
                               ).one()
    assert '"meaning":[null,"approval"]' in entry.changes
    assert entry.action == "create"
