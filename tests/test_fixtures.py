"""The test helpers that other tests rely on: ``nothing_written`` must catch every write."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update

from lims import audit
from lims.auth.models import ApiToken
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD


def test_nothing_written_passes_when_nothing_is_written(client, tech, nothing_written):
    with nothing_written():
        assert client.get("/api/v1/subjects", headers=tech).status_code == 200


def test_nothing_written_catches_an_audited_insert(app, make_user, nothing_written):
    with pytest.raises(AssertionError, match=r"create user_account.*user_account"):
        with nothing_written():
            make_user("technician")


def test_nothing_written_catches_a_change_the_trail_does_not_see(app, client, tech,
                                                                 nothing_written):
    """An unaudited table (API tokens) changed behind the trail's back is caught too."""
    with pytest.raises(AssertionError, match=r"tables changed \['api_token'\]"):
        with nothing_written(), app.app_context():
            db.session.execute(update(ApiToken).values(revoked_at=None, token_hash="x" * 64))
            db.session.commit()


def test_nothing_written_allows_exactly_the_named_entries(app, make_user, nothing_written):
    user_id, _ = make_user("qa")

    def record_refused_scan() -> None:
        with app.app_context():
            audit.record("scan_refused", "dose", 1, {"scanned_code": [None, "x"]})
            db.session.commit()

    with nothing_written(audited=["scan_refused dose"]):
        record_refused_scan()
    with pytest.raises(AssertionError, match="expected \\[\\]"):
        with nothing_written():
            record_refused_scan()
    with pytest.raises(AssertionError, match="scan_refused dose"):
        with nothing_written(audited=["scan_refused dose", "scan_refused dose"]):
            record_refused_scan()
    with pytest.raises(AssertionError, match=r"tables changed \['audit_entry', 'audit_head', "
                                             r"'product'\]"):
        with nothing_written(audited=["scan_refused dose"]), app.app_context():
            audit.record("scan_refused", "dose", 1, {})
            db.session.execute(text("UPDATE product SET name = name || ' (edited in SQL)'"))
            db.session.commit()


def test_a_wrong_password_is_kept_as_named(client, make_user, nothing_written):
    from tests.fixtures.records import KEPT_FAILED_LOGIN

    make_user("qa", username="quinn")
    with nothing_written(audited=KEPT_FAILED_LOGIN):
        refused = client.post("/api/v1/auth/tokens",
                              json={"username": "quinn", "password": "not-" + TEST_PASSWORD})
    assert refused.status_code == 401
