"""Web login, lockout, idle expiry, CSRF, cookie flags and role refusal (SPEC §8)."""

from __future__ import annotations

from tests.fixtures.records import KEPT_FAILED_LOGIN
from tests.fixtures.users import CSRF_RE, TEST_PASSWORD, csrf_token, web_login


def test_login_page_is_shown_to_anonymous_users(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert b"Log in" in page.data and b"csrf_token" in page.data


def test_login_and_logout(client, make_user):
    make_user("technician", username="tina", full_name="Tina Tech")
    response = web_login(client, "tina")
    assert response.status_code == 302
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert b"Tina Tech" in dashboard.data
    assert b"data-scan-box" in dashboard.data and b"autofocus" in dashboard.data
    logout = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert logout.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_and_counted(app, client, make_user, nothing_written):
    make_user("technician", username="tina")
    with nothing_written(audited=KEPT_FAILED_LOGIN):
        response = web_login(client, "tina", "wrong-password")
    assert response.status_code == 401
    assert b"Wrong username or password" in response.data
    from lims.auth.services import find_user

    with app.app_context():
        assert find_user("tina").failed_logins == 1


def test_lockout_after_five_failures_until_admin_unlocks(app, client, make_user,
                                                         nothing_written):
    make_user("technician", username="tina")
    statuses = [web_login(client, "tina", "nope-nope").status_code for _ in range(5)]
    assert statuses == [401] * 5
    locked = web_login(client, "tina")  # even the right password: the lock is not revealed
    assert locked.status_code == 401
    assert b"Wrong username or password" in locked.data

    admin_client = app.test_client()
    make_user("admin", username="boss")
    assert web_login(admin_client, "boss").status_code == 302
    from lims.auth.services import find_user

    with app.app_context():
        user_id = find_user("tina").id
    token = csrf_token(admin_client, "/admin/users")
    unlocked = admin_client.post(f"/admin/users/{user_id}/unlock", data={
        "csrf_token": token, "unlock-reason": "identity checked by phone"})
    assert unlocked.status_code == 302
    assert web_login(client, "tina").status_code == 302

    from sqlalchemy import select

    from lims.audit import AuditEntry
    from lims.db import db

    with app.app_context():
        changes = [e.changes for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "user_account",
                                     AuditEntry.entity_id == str(user_id)))]
    assert any('"locked_at":[null,' in c for c in changes), "the lock is audited"
    assert any('"locked_at":["' in c and ',null]' in c for c in changes), "the unlock is audited"


def test_idle_session_expires(client, make_user, clock):
    make_user("technician", username="tina")
    assert web_login(client, "tina").status_code == 302
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200  # activity resets the idle clock
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200
    clock.advance(minutes=16)
    expired = client.get("/")
    assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
    page = client.get(expired.headers["Location"])
    assert b"session expired" in page.data



def test_idle_timeout_from_config(database_url, clock):
    from lims import create_app
    from tests.fixtures.database import settings_for

    app = create_app(settings_for(database_url, IDLE_TIMEOUT_MINUTES=2))
    from lims.auth.services import create_user
    from lims.db import db

    with app.app_context():
        create_user("tina", "Tina", "technician", TEST_PASSWORD, permanent=True)
        db.session.commit()
    client = app.test_client()
    assert web_login(client, "tina").status_code == 302
    clock.advance(minutes=3)
    assert client.get("/").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_form_post_without_csrf_token_is_refused(client, make_user, nothing_written):
    make_user("technician", username="tina")
    with nothing_written():
        response = client.post("/login", data={"username": "tina", "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert b"CSRF" in response.data
    assert client.get("/").status_code == 302, "not logged in"


def test_logout_without_csrf_token_is_refused(client, login_as):
    login_as("technician")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200, "still logged in"


def test_session_cookie_flags_by_default(database_url, make_user):
    from lims import create_app
    from tests.fixtures.database import settings_for

    config = settings_for(database_url)
    for key in ("SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        config.pop(key)
    app = create_app(config)
    make_user("technician", username="tina")
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = CSRF_RE.search(page).group(1)
    response = client.post("/login", data={"username": "tina", "password": TEST_PASSWORD,
                                           "csrf_token": token},
                           base_url="https://localhost",
                           headers={"Referer": "https://localhost/login"})
    assert response.status_code == 302
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lims_session=")]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    from lims.db import db

    with app.app_context():
        db.engine.dispose()


def test_wrong_role_is_refused_on_html_pages(client, login_as):
    login_as("technician")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert b"admin" in response.data


def test_admin_creates_user_through_the_form(client, login_as):
    login_as("admin")
    token = csrf_token(client, "/admin/users")
    response = client.post("/admin/users", data={
        "username": "newtech", "full_name": "New Tech", "role": "technician",
        "password": "long-enough-1", "reason": "new starter", "csrf_token": token})
    assert response.status_code == 302
    assert b"newtech" in client.get("/admin/users").data


def test_admin_form_with_bad_input_is_a_400(client, login_as, nothing_written):
    login_as("admin")
    token = csrf_token(client, "/admin/users")
    with nothing_written():
        response = client.post("/admin/users", data={
            "username": "x", "full_name": "", "role": "wizard", "password": "short",
            "csrf_token": token})
    assert response.status_code == 400


def test_open_redirect_is_not_followed(client, make_user):
    make_user("technician", username="tina")
    token = csrf_token(client)
    response = client.post("/login?next=https://evil.example/", data={
        "username": "tina", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_deactivated_user_session_ends(app, client, make_user):
    user_id, _ = make_user("technician", username="tina")
    assert web_login(client, "tina").status_code == 302
    from lims.auth.services import get_user, update_user
    from lims.db import db

    with app.app_context():
        update_user(get_user(user_id), active=False, reason="left the company")
        db.session.commit()
    assert client.get("/").status_code == 302
