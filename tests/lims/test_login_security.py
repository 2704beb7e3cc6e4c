"""Login (SPEC §8): a lock lifts by itself; the same work and the same answer whether or
not the username exists; nothing about the account's state without the right password;
logins, logouts, failures and tokens audited with the person as actor."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

import lims.auth.services
from lims.audit import AuditEntry
from lims.auth.models import User
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login


def _token(client, username, password=TEST_PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"username": username, "password": password})


def _lock(client, username):
    for _ in range(5):
        assert _token(client, username, "wrong-password-x").status_code == 401


def _entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        found = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                        .order_by(AuditEntry.seq)))
        for entry in found:
            db.session.expunge(entry)
        return found


# -- lockout --------------------------------------------------------------------------------

def test_a_lock_lifts_by_itself_after_fifteen_minutes(app, client, make_user, clock):
    make_user("admin", username="boss")
    _lock(client, "boss")  # anyone can do this without logging in…
    clock.advance(minutes=14)
    assert _token(client, "boss").status_code == 401
    clock.advance(minutes=2)  # …but it no longer lasts for ever
    assert _token(client, "boss").status_code == 201
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "boss"))
        assert user.failed_logins == 0 and user.locked_at is None


@pytest.fixture
def lockout_30(app_config):
    app_config["LOCKOUT_MINUTES"] = 30


def test_the_lock_time_is_a_setting(lockout_30, client, make_user, clock):
    make_user("technician", username="tina")
    _lock(client, "tina")
    clock.advance(minutes=16)
    assert _token(client, "tina").status_code == 401
    clock.advance(minutes=15)
    assert _token(client, "tina").status_code == 201


def test_after_a_lock_lifts_five_more_failures_lock_again(client, make_user, clock):
    make_user("technician", username="tina")
    _lock(client, "tina")
    clock.advance(minutes=16)
    _lock(client, "tina")
    assert _token(client, "tina").status_code == 401


# -- the same work and the same answer ------------------------------------------------------

@pytest.fixture
def hash_checks(monkeypatch):
    """Every password hash checked by the auth services: the method part of each hash."""
    checked: list[str] = []
    real = lims.auth.services.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(lims.auth.services, "check_password_hash", counting)
    return checked


def test_one_hash_of_the_same_method_whoever_logs_in(app, client, make_user, hash_checks):
    make_user("technician", username="tina")
    make_user("technician", username="locked")
    make_user("technician", username="gone")
    _lock(client, "locked")
    with app.app_context():
        gone = db.session.scalar(select(User).where(User.username == "gone"))
        lims.auth.services.update_user(gone, active=False, reason="left")
        db.session.commit()
        method = lims.auth.services.hash_password("x").split("$", 1)[0]
    cases = [("nobody", "whatever-it-is"), ("tina", "wrong-password-x"), ("tina", TEST_PASSWORD),
             ("locked", TEST_PASSWORD), ("gone", TEST_PASSWORD), ("gone", "wrong-password-x")]
    for username, password in cases:
        hash_checks.clear()
        _token(client, username, password)
        assert hash_checks == [method], (username, hash_checks)
    assert method == "pbkdf2:sha256:1000"


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256:600000"])
def test_the_dummy_hash_has_the_algorithm_and_cost_of_real_ones(database_url, method):
    from lims import create_app
    from tests.fixtures.database import settings_for

    app = create_app(settings_for(database_url, PASSWORD_HASH_METHOD=method))
    with app.app_context():
        real = lims.auth.services.hash_password("a-real-password-1")
        dummy = lims.auth.services.dummy_hash()
        db.engine.dispose()
    assert dummy.split("$", 1)[0] == real.split("$", 1)[0]
    assert dummy.startswith(method)


def test_without_the_right_password_nothing_is_said_about_the_account(app, client, make_user):
    make_user("technician", username="locked")
    make_user("technician", username="gone")
    _lock(client, "locked")
    with app.app_context():
        gone = db.session.scalar(select(User).where(User.username == "gone"))
        lims.auth.services.update_user(gone, active=False, reason="left")
        db.session.commit()
    unknown = _token(client, "nobody", "wrong-password-x")
    answers = [_token(client, "locked", "wrong-password-x"), _token(client, "locked"),
               _token(client, "gone", "wrong-password-x")]
    for answer in answers:
        assert (answer.status_code, answer.json) == (unknown.status_code, unknown.json)
    assert unknown.status_code == 401 and unknown.json["error"] == "invalid_credentials"
    # The right password of a deactivated account: now it may be named.
    named = _token(client, "gone")
    assert named.status_code == 401 and named.json["error"] == "account_inactive"


def test_the_login_page_answers_alike_for_unknown_and_locked(client, make_user):
    make_user("technician", username="locked")
    _lock(client, "locked")
    unknown = web_login(client, "nobody", "wrong-password-x")
    locked = web_login(client, "locked")
    assert unknown.status_code == locked.status_code == 401
    flash = re.compile(r'<div class="flash flash-error" role="alert">([^<]*)</div>')
    shown = [flash.findall(page.get_data(as_text=True)) for page in (unknown, locked)]
    assert shown[0] == shown[1] and shown[0][0].startswith("Wrong username or password.")


# -- the audit trail ------------------------------------------------------------------------

def test_logins_and_failures_are_audited_with_the_person_as_actor(app, client, make_user):
    user_id, _ = make_user("technician", username="tina")
    web_login(client, "tina", "wrong-password-x")
    web_login(client, "tina")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    [failed] = _entries(app, "login_failed")
    [login] = _entries(app, "login")
    [logout] = _entries(app, "logout")
    for entry in (failed, login, logout):
        assert (entry.actor_id, entry.actor_username) == (user_id, "tina")
        assert entry.entity_type == "user_account" and entry.entity_id == str(user_id)
    assert "wrong-password-x" not in failed.changes
    with app.app_context():
        actors = {e.actor_username for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "user_account", AuditEntry.entity_id == str(user_id),
            AuditEntry.action != "create"))}
        assert actors == {"tina"}, "nothing about a login is recorded as 'system'"


def test_a_failed_login_of_an_unknown_username_is_audited_without_the_text(app, client):
    typed = "correct-horse-battery-1"  # a password typed into the username field
    _token(client, typed, "whatever-it-is")
    _token(client, typed, "whatever-else")
    entries = _entries(app, "login_failed")
    assert len(entries) == 2
    assert entries[0].actor_username == entries[1].actor_username, "the same text, one actor"
    assert entries[0].actor_username.startswith("unknown:") and entries[0].actor_id is None
    for entry in entries:
        assert typed not in entry.actor_username + entry.changes + entry.entity_id
        assert "whatever" not in entry.changes
    assert json.loads(entries[0].changes)["username_fingerprint"][1] in \
        entries[0].actor_username


def test_token_issue_and_revocation_are_audited_with_the_person_as_actor(app, client,
                                                                         make_user):
    user_id, _ = make_user("qa", username="quinn")
    token = _token(client, "quinn").json["token"]
    assert client.delete("/api/v1/auth/tokens/current",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 204
    [issued] = _entries(app, "token_issued")
    [revoked] = _entries(app, "token_revoked")
    for entry in (issued, revoked):
        assert (entry.actor_id, entry.actor_username) == (user_id, "quinn")
    assert token not in issued.changes + revoked.changes
