"""Every user changes their own password; a password set by an admin is one-time
(SPEC §8 accounts, API contract v2 ``POST /api/v1/auth/password``)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lims.audit import AuditEntry
from lims.auth.models import PasswordHistory, User
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login

NEW = "a-fresh-passphrase-1"


def _token(client, username, password=TEST_PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"username": username, "password": password})


def _bearer(response) -> dict[str, str]:
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _change(client, headers, current, new):
    return client.post("/api/v1/auth/password", headers=headers,
                       json={"current_password": current, "new_password": new})


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def _user(app, username) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        return user


# -- the user changes their password --------------------------------------------------------

def test_a_user_changes_their_password_through_the_api(app, client, make_user):
    make_user("qa", username="quinn")
    headers = _bearer(_token(client, "quinn"))
    changed = _change(client, headers, TEST_PASSWORD, NEW)
    assert changed.status_code == 204 and changed.data == b""
    assert _token(client, "quinn").status_code == 401, "the old password is gone"
    assert _token(client, "quinn", NEW).status_code == 201
    assert client.get("/api/v1/me", headers=headers).status_code == 200, "this token stays"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "password_changed")).one()
        assert entry.actor_username == "quinn"
        assert TEST_PASSWORD not in entry.changes and NEW not in entry.changes


def test_a_wrong_current_password_is_refused_counted_and_changes_nothing(app, client, make_user):
    make_user("qa", username="quinn")
    headers = _bearer(_token(client, "quinn"))
    before = _user(app, "quinn").password_hash
    refused = _change(client, headers, "not-my-password", NEW)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_credentials"
    after = _user(app, "quinn")
    assert after.password_hash == before and after.failed_logins == 1


@pytest.mark.parametrize(("new", "rules"), [
    ("password", ["min_length", "common"]),
    ("12345678", ["min_length", "common"]),
    (" " * 8, ["min_length", "repetitive"]),
    ("qwerty123456", ["common"]),
    ("quinn", ["min_length", "username"]),
])
def test_a_new_password_that_breaks_the_policy_is_a_400_naming_the_rule(app, client, make_user,
                                                                        new, rules):
    make_user("qa", username="quinn")
    headers = _bearer(_token(client, "quinn"))
    before = _user(app, "quinn").password_hash
    entries = _audit_count(app)
    refused = _change(client, headers, TEST_PASSWORD, new)
    assert refused.status_code == 400, refused.json
    assert refused.json["error"] == "password_policy"
    assert refused.json["details"]["rules"] == rules
    assert "new_password" in refused.json["details"]["fields"]
    assert _user(app, "quinn").password_hash == before
    assert _audit_count(app) == entries, "nothing written"


def test_none_of_the_last_five_passwords_comes_back(app, client, make_user):
    make_user("qa", username="quinn")
    headers = _bearer(_token(client, "quinn"))
    passwords = [TEST_PASSWORD] + [f"passphrase-number-{n}" for n in range(1, 6)]
    for previous, new in zip(passwords, passwords[1:], strict=False):
        assert _change(client, headers, previous, new).status_code == 204
    current = passwords[-1]
    for reused in passwords[1:]:  # the current one and the four before it
        refused = _change(client, headers, current, reused)
        assert refused.status_code == 400 and refused.json["details"]["rules"] == ["reused"]
    assert _change(client, headers, current, passwords[0]).status_code == 204, \
        "six passwords ago is allowed again"
    with app.app_context():
        kept = db.session.scalar(select(func.count()).select_from(PasswordHistory))
        assert kept == 5, "only the last five hashes are kept"


def test_the_change_page_changes_the_password(app, client, make_user):
    make_user("technician", username="tina")
    assert web_login(client, "tina").status_code == 302
    page = client.get("/account/password")
    assert page.status_code == 200 and b"At least 12 characters" in page.data
    changed = client.post("/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": NEW, "confirm": NEW,
        "csrf_token": csrf_token(client, "/account/password")})
    assert changed.status_code == 302 and changed.headers["Location"] == "/"
    assert web_login(app.test_client(), "tina", NEW).status_code == 302


def test_the_change_page_names_the_broken_rule_next_to_the_field(app, client, make_user):
    make_user("technician", username="tina")
    web_login(client, "tina")
    refused = client.post("/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": "12345678", "confirm": "12345678",
        "csrf_token": csrf_token(client, "/account/password")})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert 'class="field-error">at least 12 characters' in html


# -- one-time passwords ---------------------------------------------------------------------

def _admin_creates(client, admin, username="newqa", password="one-time-pass-1", role="qa"):
    created = client.post("/api/v1/users", headers=admin, json={
        "username": username, "full_name": f"New {username}", "role": role,
        "password": password, "reason": "new starter"})
    assert created.status_code == 201, created.json
    assert created.json["must_change_password"] is True
    return created.json


def test_an_admin_set_password_must_be_changed_before_anything_else_api(client, api_headers):
    admin = api_headers("admin")
    _admin_creates(client, admin)
    issued = _token(client, "newqa", "one-time-pass-1")
    assert issued.status_code == 201 and issued.json["password_change_required"] is True
    headers = _bearer(issued)
    for call in (client.get("/api/v1/me", headers=headers),
                 client.get("/api/v1/batches", headers=headers),
                 client.get("/api/v1/auth/signing", headers=headers)):
        assert call.status_code == 403 and call.json["error"] == "password_change_required"
    assert _change(client, headers, "one-time-pass-1", "one-time-pass-1").json["details"][
        "rules"] == ["reused"], "the one-time password cannot be kept"
    assert _change(client, headers, "one-time-pass-1", NEW).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert _token(client, "newqa", NEW).json["password_change_required"] is False


def test_an_admin_set_password_leads_to_the_change_page_first_web(app, client, api_headers):
    _admin_creates(client, api_headers("admin"), username="tina", role="technician")
    login = web_login(client, "tina", "one-time-pass-1")
    assert login.status_code == 302 and login.headers["Location"] == "/account/password"
    for path in ("/", "/alerts", "/batches"):
        elsewhere = client.get(path)
        assert elsewhere.status_code == 302, path
        assert elsewhere.headers["Location"] == "/account/password"
    page = client.get("/account/password")
    assert b'id="change-required"' in page.data
    changed = client.post("/account/password", data={
        "current_password": "one-time-pass-1", "new_password": NEW, "confirm": NEW,
        "csrf_token": csrf_token(client, "/account/password")})
    assert changed.status_code == 302
    assert client.get("/").status_code == 200


def test_an_admin_reset_is_one_time_and_ends_the_users_sessions(app, client, make_user,
                                                                 api_headers):
    user_id, _ = make_user("qa", username="quinn")
    old = _bearer(_token(client, "quinn"))
    admin = api_headers("admin")
    reset = client.post(f"/api/v1/users/{user_id}/password", headers=admin,
                        json={"password": "reset-by-admin-1", "reason": "forgot password"})
    assert reset.status_code == 200 and reset.json["must_change_password"] is True
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert _token(client, "quinn").status_code == 401
    headers = _bearer(_token(client, "quinn", "reset-by-admin-1"))
    assert client.get("/api/v1/me", headers=headers).json["error"] == "password_change_required"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "user_account", AuditEntry.entity_id == str(user_id),
            AuditEntry.changes.contains('"must_change_password":[false,true]'))).one()
        assert entry.reason == "forgot password" and "reset-by-admin-1" not in entry.changes
        assert '"password_hash":["***","***"]' in entry.changes


def test_a_reset_needs_a_reason_and_a_policy_password_and_writes_nothing_else(
        app, client, make_user, api_headers):
    user_id, _ = make_user("qa", username="quinn")
    admin = api_headers("admin")
    entries = _audit_count(app)
    no_reason = client.post(f"/api/v1/users/{user_id}/password", headers=admin,
                            json={"password": "reset-by-admin-1"})
    weak = client.post(f"/api/v1/users/{user_id}/password", headers=admin,
                       json={"password": "12345678", "reason": "forgot"})
    assert no_reason.status_code == 400 and "reason" in no_reason.json["details"]["fields"]
    assert weak.status_code == 400 and weak.json["details"]["rules"] == ["min_length", "common"]
    assert _audit_count(app) == entries
    assert _token(client, "quinn").status_code == 201


def test_an_admin_cannot_reset_their_own_password(client, make_user):
    admin_id, _ = make_user("admin", username="boss")
    headers = _bearer(_token(client, "boss"))
    refused = client.post(f"/api/v1/users/{admin_id}/password", headers=headers,
                          json={"password": "reset-by-admin-1", "reason": "mine"})
    assert refused.status_code == 409


@pytest.fixture
def max_age_90_days(app_config):
    app_config["PASSWORD_MAX_AGE_DAYS"] = 90


def test_a_password_past_its_maximum_age_must_be_changed(max_age_90_days, client, make_user,
                                                         clock):
    make_user("qa", username="quinn")
    clock.advance(days=89)
    assert client.get("/api/v1/me", headers=_bearer(_token(client, "quinn"))).status_code == 200
    clock.advance(days=2)
    issued = _token(client, "quinn")
    assert issued.json["password_change_required"] is True
    headers = _bearer(issued)
    assert client.get("/api/v1/me", headers=headers).json["error"] == "password_change_required"
    assert _change(client, headers, TEST_PASSWORD, NEW).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 200


# -- CLI ------------------------------------------------------------------------------------

def test_create_user_from_the_cli_is_one_time_unless_permanent(app, runner):
    one_time = runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                                   "--full-name", "Quinn Quality", "--password", NEW])
    permanent = runner.invoke(args=["lims", "create-user", "robot", "--role", "technician",
                                    "--full-name", "Line Robot", "--password", NEW,
                                    "--permanent"])
    assert one_time.exit_code == 0 and "one-time" in one_time.output
    assert permanent.exit_code == 0 and "permanent" in permanent.output
    assert _user(app, "quinn").must_change_password is True
    assert _user(app, "robot").must_change_password is False


def test_create_user_from_the_cli_refuses_a_common_password(app, runner):
    result = runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                                 "--full-name", "Quinn", "--password", "qwerty123456"])
    assert result.exit_code == 1 and "common" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "quinn")) is None
