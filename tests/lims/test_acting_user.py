"""The acting user is explicit (STYLE): the actor of a service call is its ``user`` argument,
inside a request or outside one (CLI command, scheduled job), and the context's actor is
given back after the call."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from batches.alerts import BatchAlert
from lims.alerts import services as alerts
from lims.audit import AuditEntry
from lims.audit.context import acting_as, current_actor, set_actor, user_is_actor
from lims.auth import services
from lims.auth.models import User
from lims.db import db
from lims.errors import Unauthorized
from tests.fixtures.records import CLI_ACTOR, call_as
from tests.fixtures.users import TEST_PASSWORD


def _entries(after: int = 0) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.seq > after)
                                   .order_by(AuditEntry.seq)))


def test_a_signature_and_an_acknowledgement_audit_the_user_they_are_given(app, make_user):
    qa_id, _ = make_user("qa")
    tech_id, _ = make_user("technician")
    with app.app_context():
        qa, tech = services.get_user(qa_id), services.get_user(tech_id)
        call_as(qa, services.sign, password=TEST_PASSWORD, meaning="approval",
                entity_type="batch", entity_id=1, content={"batch": 1})
        alert, _created = alerts.raise_alert(BatchAlert.identity_mismatch,
                                             alerts.Cause("dose", "1", "wrong patient"))
        call_as(tech, alerts.acknowledge, alert, comment="dose returned to storage")


def test_a_wrong_password_is_counted_against_its_owner_as_actor(app, make_user):
    qa_id, qa_name = make_user("qa")
    with app.app_context():
        set_actor(None, CLI_ACTOR)
        before = _entries()[-1].seq
        with pytest.raises(Unauthorized):
            services.verify_password(services.get_user(qa_id), "not-the-password")
        [entry] = _entries(before)
        assert (entry.action, entry.entity_type, entry.actor_username) == \
            ("update", "user_account", qa_name)
        assert current_actor() == (None, CLI_ACTOR)


def test_changes_pending_before_the_call_keep_their_own_actor(app, make_user):
    """Work left unflushed by the caller is the caller's, not the service's user's."""
    tech_id, tech_name = make_user("technician")
    qa_id, _ = make_user("qa")
    with app.app_context():
        set_actor(None, CLI_ACTOR)
        before = _entries()[-1].seq
        db.session.get(User, tech_id).full_name = "Renamed By The CLI"
        with acting_as(services.get_user(qa_id)):
            assert current_actor()[1] != CLI_ACTOR
        [entry] = _entries(before)
        assert entry.entity_id == str(tech_id) and entry.actor_username == CLI_ACTOR
        assert current_actor() == (None, CLI_ACTOR)


def test_no_user_keeps_the_actor_and_a_service_without_user_is_refused(app):
    @user_is_actor
    def sweep_task(step: int, user: User | None = None) -> tuple[int | None, str]:
        return current_actor()

    with app.app_context():
        set_actor(None, "scheduler")
        assert sweep_task(1) == sweep_task(1, None) == (None, "scheduler")
    with pytest.raises(TypeError, match="takes no 'user'"):
        user_is_actor(lambda batch: batch)


def test_the_actor_is_given_back_after_a_refusal(app, make_user):
    qa_id, _ = make_user("qa")
    with app.app_context():
        set_actor(None, CLI_ACTOR)
        with pytest.raises(Unauthorized):
            services.sign(services.get_user(qa_id), "wrong-password", "approval", "batch", 1, {})
        assert current_actor() == (None, CLI_ACTOR)
