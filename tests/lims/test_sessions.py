"""Sessions are revocable on the server (SPEC §8): logout, password change, role change,
deactivation and lock end the user's web sessions and API tokens at once, and nothing
revives them."""

from __future__ import annotations

from sqlalchemy import select

from lims.audit import AuditEntry
from lims.auth.models import LoginSession, User
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login

COOKIE = "lims_session"


def _token(client, username, password=TEST_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/tokens",
                           json={"username": username, "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _copy_cookie(app, source):
    """What an attacker who captured the session cookie holds: another browser with it."""
    stolen = app.test_client()
    stolen.set_cookie(COOKIE, source.get_cookie(COOKIE).value)
    return stolen


def _logged_in(client) -> bool:
    return client.get("/").status_code == 200


def test_a_cookie_captured_before_logout_does_not_work_after_it(app, client, make_user):
    make_user("qa", username="quinn")
    assert web_login(client, "quinn").status_code == 302
    stolen = _copy_cookie(app, client)
    assert _logged_in(stolen), "the copy works while the session is open"
    stolen = _copy_cookie(app, client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert not _logged_in(client)
    replay = stolen.get("/")
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/login")
    with app.app_context():
        [record] = db.session.scalars(select(LoginSession)).all()
        assert record.end_reason == "logout" and record.ended_at is not None


def test_a_session_ended_by_idleness_stays_ended(app, client, make_user, clock):
    make_user("qa", username="quinn")
    web_login(client, "quinn")
    stolen = _copy_cookie(app, client)
    clock.advance(minutes=16)
    assert not _logged_in(client)
    clock.advance(minutes=-10)  # even if the clock (or a replayed cookie) says otherwise
    assert not _logged_in(stolen)


def _admin(client, make_user) -> dict[str, str]:
    make_user("admin", username="boss")
    return _token(client, "boss")


def test_deactivation_ends_sessions_and_reactivation_revives_none(app, client, make_user):
    user_id, _ = make_user("technician", username="tina")
    web_login(client, "tina")
    token = _token(app.test_client(), "tina")
    admin = _admin(app.test_client(), make_user)
    api = app.test_client()
    assert api.patch(f"/api/v1/users/{user_id}", headers=admin,
                     json={"active": False, "reason": "suspended"}).status_code == 200
    assert not _logged_in(client)
    assert api.get("/api/v1/me", headers=token).status_code == 401
    assert api.patch(f"/api/v1/users/{user_id}", headers=admin,
                     json={"active": True, "reason": "back"}).status_code == 200
    assert api.get("/api/v1/me", headers=token).status_code == 401, "the old token stays dead"
    assert not _logged_in(client), "the old web session stays dead"
    assert _token(api, "tina"), "a new login works"


def test_a_lock_ends_sessions_and_unlocking_revives_none(app, client, make_user, clock):
    user_id, _ = make_user("technician", username="tina")
    web_login(client, "tina")
    api = app.test_client()
    token = _token(api, "tina")
    for _ in range(5):
        api.post("/api/v1/auth/tokens", json={"username": "tina", "password": "wrong-pass-x"})
    assert not _logged_in(client)
    assert api.get("/api/v1/me", headers=token).status_code == 401
    admin = _admin(api, make_user)
    assert api.post(f"/api/v1/users/{user_id}/unlock", headers=admin,
                    json={"reason": "identity checked"}).status_code == 200
    assert api.get("/api/v1/me", headers=token).status_code == 401
    for _ in range(5):
        api.post("/api/v1/auth/tokens", json={"username": "tina", "password": "wrong-pass-x"})
    clock.advance(minutes=16)  # the lock lifts by itself: the tokens stay dead
    assert api.get("/api/v1/me", headers=token).status_code == 401
    with app.app_context():
        ended = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "sessions_ended", AuditEntry.entity_id == str(user_id))).all()
        assert ended and '"why":[null,"locked"]' in ended[0].changes


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app, client, make_user):
    make_user("qa", username="quinn")
    web_login(client, "quinn")
    api = app.test_client()
    other, mine = _token(api, "quinn"), _token(api, "quinn")
    changed = api.post("/api/v1/auth/password", headers=mine, json={
        "current_password": TEST_PASSWORD, "new_password": "a-new-passphrase-1"})
    assert changed.status_code == 204
    assert api.get("/api/v1/me", headers=mine).status_code == 200
    assert api.get("/api/v1/me", headers=other).status_code == 401
    assert not _logged_in(client)


def test_a_password_change_on_the_page_keeps_that_session(app, client, make_user):
    make_user("qa", username="quinn")
    web_login(client, "quinn")
    elsewhere = app.test_client()
    web_login(elsewhere, "quinn")
    client.post("/account/password", data={
        "current_password": TEST_PASSWORD, "new_password": "a-new-passphrase-1",
        "confirm": "a-new-passphrase-1", "csrf_token": csrf_token(client, "/account/password")})
    assert _logged_in(client) and not _logged_in(elsewhere)


def test_a_role_change_ends_the_web_session(app, client, make_user):
    user_id, _ = make_user("technician", username="tina")
    web_login(client, "tina")
    api = app.test_client()
    admin = _admin(api, make_user)
    assert api.patch(f"/api/v1/users/{user_id}", headers=admin,
                     json={"role": "qa", "reason": "trained"}).status_code == 200
    ended = client.get("/")
    assert ended.status_code == 302
    assert b"session has ended" in client.get(ended.headers["Location"]).data
    with app.app_context():
        [record] = db.session.scalars(select(LoginSession).where(
            LoginSession.user_id == user_id)).all()
        assert record.end_reason == "role_changed"
        assert db.session.get(User, user_id).role == "qa"
