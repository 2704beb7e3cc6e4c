"""API tokens, lockout, role refusal and account administration (SPEC §7, §8)."""

from __future__ import annotations

from tests.fixtures.records import KEPT_FAILED_LOGIN, KEPT_UNKNOWN_LOGIN
from tests.fixtures.users import TEST_PASSWORD


def _token(client, username, password=TEST_PASSWORD):
    return client.post("/api/v1/auth/tokens", json={"username": username, "password": password})


def test_token_is_issued_and_authenticates(client, make_user):
    make_user("qa", username="quinn")
    response = _token(client, "quinn")
    assert response.status_code == 201
    body = response.json
    assert body["user"] == {"id": body["user"]["id"], "username": "quinn",
                            "full_name": "Qa quinn", "role": "qa"}
    assert body["expires_at"].endswith("+00:00")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json["username"] == "quinn"


def test_api_needs_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"] == "token_required"
    assert set(response.json) == {"error", "message", "details"}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_session_cookie_does_not_authenticate_the_api(client, login_as):
    login_as("admin")
    assert client.get("/api/v1/users").status_code == 401


def test_unknown_token_is_refused(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_wrong_password_is_401_and_unknown_user_too(client, make_user, nothing_written):
    make_user("qa", username="quinn")
    with nothing_written(audited=KEPT_FAILED_LOGIN):
        wrong = _token(client, "quinn", "not-the-password")
    with nothing_written(audited=KEPT_UNKNOWN_LOGIN):
        unknown = _token(client, "nobody", "whatever-it-is")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["error"] == unknown.json["error"] == "invalid_credentials"


def test_lockout_after_five_failures_until_admin_unlocks(client, make_user, api_headers):
    user_id, _ = make_user("technician", username="tina")
    assert [_token(client, "tina", "bad-bad-bad").status_code for _ in range(5)] == [401] * 5
    refused = _token(client, "tina")  # the right password: still the same answer
    assert refused.status_code == 401 and refused.json["error"] == "invalid_credentials"

    admin = api_headers("admin")
    listed = {u["username"]: u for u in client.get("/api/v1/users", headers=admin).json}
    assert listed["tina"]["locked"] is True and listed["tina"]["failed_logins"] == 5
    unlocked = client.post(f"/api/v1/users/{user_id}/unlock", headers=admin,
                           json={"reason": "called the help desk, identity checked"})
    assert unlocked.status_code == 200 and unlocked.json["locked"] is False
    assert _token(client, "tina").status_code == 201


def test_a_success_resets_the_failure_count(client, make_user):
    make_user("technician", username="tina")
    for _ in range(4):
        _token(client, "tina", "bad-bad-bad")
    assert _token(client, "tina").status_code == 201
    assert [_token(client, "tina", "bad-bad-bad").status_code for _ in range(4)] == [401] * 4


def test_token_of_a_locked_account_stops_working(client, make_user, api_headers):
    headers = api_headers("technician", username="tina")
    for _ in range(5):
        _token(client, "tina", "bad-bad-bad")
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_expires(client, api_headers, clock):
    headers = api_headers("qa")
    clock.advance(minutes=479)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(minutes=2)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_revoked_token_is_refused(client, api_headers):
    headers = api_headers("qa")
    assert client.delete("/api/v1/auth/tokens/current", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_wrong_role_is_403_on_the_api(client, api_headers):
    for role in ("technician", "qa"):
        response = client.get("/api/v1/users", headers=api_headers(role))
        assert response.status_code == 403
        assert response.json["error"] == "forbidden"
        assert response.json["details"]["required_roles"] == ["admin"]


def test_admin_creates_and_deactivates_a_user(client, api_headers, nothing_written):
    admin = api_headers("admin")
    created = client.post("/api/v1/users", headers=admin, json={
        "username": "newqa", "full_name": "New QA", "role": "qa", "password": "long-enough-1",
        "reason": "new QA officer"})
    assert created.status_code == 201 and created.json["role"] == "qa"
    assert "password" not in created.json and "password_hash" not in created.json
    with nothing_written():
        duplicate = client.post("/api/v1/users", headers=admin, json={
            "username": "newqa", "full_name": "Again", "role": "qa", "password": "long-enough-1",
            "reason": "again"})
    assert duplicate.status_code == 409
    off = client.patch(f"/api/v1/users/{created.json['id']}", headers=admin,
                       json={"active": False, "reason": "left the company"})
    assert off.status_code == 200 and off.json["active"] is False
    with nothing_written(audited=["login_failed user_account"]):  # audited, nothing else
        assert _token(client, "newqa", "long-enough-1").status_code == 401


def test_bad_user_input_names_the_fields(client, api_headers, nothing_written):
    admin = api_headers("admin")
    with nothing_written():
        response = client.post("/api/v1/users", headers=admin, json={
            "username": "a b", "role": "wizard", "password": "", "extra": 1})
    assert response.status_code == 400
    assert {"username", "role", "password", "full_name", "reason", "extra"} <= set(
        response.json["details"]["fields"])


def test_unknown_user_is_404(client, api_headers, nothing_written):
    admin = api_headers("admin")
    with nothing_written():
        response = client.post("/api/v1/users/999999/unlock", headers=admin,
                               json={"reason": "help desk"})
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_password_never_appears_in_the_audit_trail(app, client, api_headers):
    admin = api_headers("admin")
    client.post("/api/v1/users", headers=admin, json={
        "username": "newqa", "full_name": "New QA", "role": "qa", "password": "long-enough-1",
        "reason": "new QA officer"})
    trail = client.get("/api/v1/audit?entity_type=user_account", headers=admin).json
    text = str(trail)
    assert "long-enough-1" not in text and "pbkdf2" not in text
    assert {"field": "password_hash", "old": None, "new": "***"} in trail[-1]["changes"]
