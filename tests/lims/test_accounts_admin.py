"""Account administration (SPEC §8 accounts): an admin never holds a GMP role nor changes
their own role; role and name changes need a reason and are audited; a printed name that
has signed is never given to another person."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lims.audit import AuditEntry
from lims.auth import services
from lims.auth.models import User
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login


def _bearer(client, username, password=TEST_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/tokens",
                           json={"username": username, "password": password})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def _role(app, user_id) -> str:
    with app.app_context():
        return db.session.get(User, user_id).role


def _sign_as(app, user_id) -> None:
    with app.app_context():
        services.sign(db.session.get(User, user_id), TEST_PASSWORD, "approval", "batch", 1,
                      {"batch": 1})
        db.session.commit()


# -- roles ----------------------------------------------------------------------------------

def test_an_admin_cannot_make_itself_qa(app, client, make_user):
    admin_id, _ = make_user("admin", username="boss")
    headers = _bearer(client, "boss")
    entries = _audit_count(app)
    refused = client.patch(f"/api/v1/users/{admin_id}", headers=headers,
                           json={"role": "qa", "reason": "short of QA staff"})
    assert refused.status_code == 409
    assert "their own role" in " ".join(refused.json["details"]["reasons"])
    assert _role(app, admin_id) == "admin" and _audit_count(app) == entries
    release = client.post("/api/v1/batches/1/release", headers=headers,
                          json={"password": TEST_PASSWORD, "meaning": "approval"})
    assert release.status_code == 403 and release.json["details"]["role"] == "admin"


@pytest.mark.parametrize(("start", "to"), [("admin", "qa"), ("admin", "technician"),
                                           ("qa", "admin"), ("technician", "admin")])
def test_no_account_is_both_admin_and_gmp(app, client, make_user, api_headers, start, to):
    user_id, _ = make_user(start)
    admin = api_headers("admin")
    entries = _audit_count(app)
    refused = client.patch(f"/api/v1/users/{user_id}", headers=admin,
                           json={"role": to, "reason": "reorganisation"})
    assert refused.status_code == 409
    assert "separate account" in refused.json["message"]
    assert _role(app, user_id) == start and _audit_count(app) == entries


def test_a_role_change_needs_a_reason_is_audited_and_ends_the_users_sessions(
        app, client, make_user, api_headers):
    user_id, name = make_user("technician", username="tina")
    tina = _bearer(client, "tina")
    admin = api_headers("admin")
    no_reason = client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"role": "qa"})
    assert no_reason.status_code == 400 and "reason" in no_reason.json["details"]["fields"]
    assert _role(app, user_id) == "technician"
    changed = client.patch(f"/api/v1/users/{user_id}", headers=admin,
                           json={"role": "qa", "reason": "qualified as QA officer (TR-12)"})
    assert changed.status_code == 200 and changed.json["role"] == "qa"
    assert client.get("/api/v1/me", headers=tina).status_code == 401, "old token ended"
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_id == str(user_id),
            AuditEntry.changes.contains('"role":["technician","qa"]'))).one()
        assert entry.reason == "qualified as QA officer (TR-12)"
        assert entry.actor_username != name


def test_an_admin_cannot_deactivate_itself(app, client, make_user):
    admin_id, _ = make_user("admin", username="boss")
    refused = client.patch(f"/api/v1/users/{admin_id}", headers=_bearer(client, "boss"),
                           json={"active": False, "reason": "leaving"})
    assert refused.status_code == 409
    with app.app_context():
        assert db.session.get(User, admin_id).active is True


# -- printed names --------------------------------------------------------------------------

def test_a_printed_name_that_signed_is_never_given_to_another_person(app, client, make_user,
                                                                     api_headers):
    officer_id, _ = make_user("qa", username="quinn", full_name="Quinn Quality")
    _sign_as(app, officer_id)
    admin = api_headers("admin")
    # The officer is renamed (marriage); the signed name stays theirs.
    renamed = client.patch(f"/api/v1/users/{officer_id}", headers=admin,
                           json={"full_name": "Quinn Smith", "reason": "name change"})
    assert renamed.status_code == 200
    entries = _audit_count(app)
    impostor = client.post("/api/v1/users", headers=admin, json={
        "username": "fake", "full_name": "quinn  QUALITY", "role": "qa",
        "password": "long-enough-1", "reason": "new QA"})
    assert impostor.status_code == 409 and impostor.json["error"] == "printed_name_taken"
    assert "has signed" in impostor.json["details"]["reasons"][0]
    other_id, _ = make_user("qa", username="other", full_name="Olga Other")
    rename = client.patch(f"/api/v1/users/{other_id}", headers=admin,
                          json={"full_name": "Quinn Quality", "reason": "typo"})
    assert rename.status_code == 409
    assert _audit_count(app) == entries + 1, "only the make_user above wrote"
    back = client.patch(f"/api/v1/users/{officer_id}", headers=admin,
                        json={"full_name": "Quinn Quality", "reason": "divorce"})
    assert back.status_code == 200, "the same person may take their own name back"


def test_two_accounts_never_share_a_printed_name(client, make_user, api_headers):
    make_user("qa", username="quinn", full_name="Quinn Quality")
    refused = client.post("/api/v1/users", headers=api_headers("admin"), json={
        "username": "quinn2", "full_name": "Quinn Quality", "role": "technician",
        "password": "long-enough-1", "reason": "new starter"})
    assert refused.status_code == 409


def test_a_name_change_needs_a_reason_and_keeps_it_in_the_trail(app, client, make_user,
                                                                api_headers):
    user_id, _ = make_user("technician", username="tina", full_name="Tina Tech")
    admin = api_headers("admin")
    assert client.patch(f"/api/v1/users/{user_id}", headers=admin,
                        json={"full_name": "Tina Tech-Smith"}).status_code == 400
    assert client.patch(f"/api/v1/users/{user_id}", headers=admin, json={
        "full_name": "Tina Tech-Smith", "reason": "marriage"}).status_code == 200
    history = client.get(f"/api/v1/audit?entity_type=user_account&entity_id={user_id}",
                         headers=api_headers("qa")).json
    renamed = [e for e in history if {"field": "full_name", "old": "Tina Tech",
                                      "new": "Tina Tech-Smith"} in e["changes"]]
    assert len(renamed) == 1 and renamed[0]["reason"] == "marriage"


# -- the admin pages ------------------------------------------------------------------------

@pytest.fixture
def admin_web(client, make_user):
    make_user("admin", username="boss", full_name="Ada Admin")
    assert web_login(client, "boss").status_code == 302
    return client


def _post(client, path, data, page):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page)})


def test_the_account_page_offers_every_act_with_a_reason(admin_web, make_user):
    user_id, _ = make_user("technician", username="tina")
    page = admin_web.get(f"/admin/users/{user_id}").get_data(as_text=True)
    for form in ("rename-form", "role-form", "reset-form", "active-form"):
        assert f'id="{form}"' in page, form
    assert page.count('name="reason"') + page.count('-reason"') >= 4
    assert b"/admin/users/" in admin_web.get("/admin/users").data


def test_account_acts_through_the_pages(app, admin_web, make_user):
    user_id, _ = make_user("technician", username="tina", full_name="Tina Tech")
    page = f"/admin/users/{user_id}"
    renamed = _post(admin_web, f"{page}/name", {"full_name": "Tina Tech-Smith",
                                                "reason": "marriage"}, page)
    assert renamed.status_code == 302
    promoted = _post(admin_web, f"{page}/role", {"role": "qa", "reason": "trained"}, page)
    assert promoted.status_code == 302
    reset = _post(admin_web, f"{page}/password", {"password": "one-time-pass-1",
                                                  "reason": "forgot"}, page)
    assert reset.status_code == 302
    off = _post(admin_web, f"{page}/active", {"active-reason": "left"}, page)
    assert off.status_code == 302
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.full_name, user.role, user.must_change_password, user.active) == \
            ("Tina Tech-Smith", "qa", True, False)
        reasons = {e.reason for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "user_account", AuditEntry.entity_id == str(user_id)))}
        assert {"marriage", "trained", "forgot", "left"} <= reasons
    shown = admin_web.get(page).get_data(as_text=True)
    assert "marriage" in shown and 'data-status="inactive"' in shown


def test_account_pages_refuse_without_a_reason_and_show_refusals(app, admin_web, make_user):
    user_id, _ = make_user("technician", username="tina")
    page = f"/admin/users/{user_id}"
    no_reason = _post(admin_web, f"{page}/role", {"role": "qa", "reason": ""}, page)
    assert no_reason.status_code == 400 and b"A reason is required." in no_reason.data
    to_admin = _post(admin_web, f"{page}/role", {"role": "admin", "reason": "promote"}, page)
    assert to_admin.status_code == 409 and b"separate account" in to_admin.data
    weak = _post(admin_web, f"{page}/password", {"password": "12345678", "reason": "x"}, page)
    assert weak.status_code == 400 and b"at least 12 characters" in weak.data
    assert _role(app, user_id) == "technician"


def test_the_admin_page_of_itself_offers_no_role_change(app, admin_web):
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "boss"))
    page = admin_web.get(f"/admin/users/{admin_id}").get_data(as_text=True)
    assert 'id="role-form"' not in page and 'id="active-form"' not in page


def test_creating_an_account_on_the_page_needs_a_reason_and_is_one_time(app, admin_web):
    token = csrf_token(admin_web, "/admin/users")
    data = {"username": "newtech", "full_name": "New Tech", "role": "technician",
            "password": "long-enough-1", "csrf_token": token}
    assert admin_web.post("/admin/users", data=data).status_code == 400
    created = admin_web.post("/admin/users", data={**data, "reason": "new starter"})
    assert created.status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "newtech"))
        assert user.must_change_password is True
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "user_account", AuditEntry.entity_id == str(user.id),
            AuditEntry.action == "create")).one()
        assert entry.reason == "new starter"
        assert json.loads(entry.changes)["password_hash"] == [None, "***"]


def test_a_refused_account_change_lists_every_reason_and_changes_nothing(app, client, make_user,
                                                                        api_headers):
    make_user("qa", username="quinn", full_name="Quinn Quality")
    user_id, _ = make_user("technician", username="tina", full_name="Tina Tech")
    refused = client.patch(f"/api/v1/users/{user_id}", headers=api_headers("admin"), json={
        "role": "admin", "full_name": "Quinn Quality", "reason": "reorganisation"})
    assert refused.status_code == 409 and len(refused.json["details"]["reasons"]) == 2
    with app.app_context():
        user = db.session.get(User, user_id)
        assert (user.role, user.full_name) == ("technician", "Tina Tech")
