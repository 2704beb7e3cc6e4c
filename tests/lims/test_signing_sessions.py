"""E-signature components per session and meanings per act (SPEC §8; 21 CFR 11.200(a)(1)):
user id + password at the first signing of a session, the password at later ones; a
dialog offers only the meanings valid for its act."""

from __future__ import annotations

import re

import pytest
from flask import jsonify, render_template_string, request
from sqlalchemy import select

from lims.auth import services
from lims.auth.guard import current_actor_user
from lims.auth.models import ApiToken, LoginSession, Meaning, Signature, User
from lims.auth.signing import add_signing_act, meaning_choices, meanings_for
from lims.db import db
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login

pytestmark = pytest.mark.fresh_app  # these tests add routes to their app

ACT = "test_release"


def _sign_view():
    """A signing route as a feature package writes one: the act's meanings, the user id
    passed on to the signing service."""
    data = request.get_json(silent=True) or request.form
    user = current_actor_user()
    signature = services.sign(user, data.get("password", ""), data.get("meaning", ""),
                              "batch", 1, {"batch": 1}, allowed=meanings_for(ACT),
                              username=data.get("username"))
    return jsonify(signer=signature.username, meaning=signature.meaning), 201


@pytest.fixture
def signing_app(app_config):
    app_config["SIGNATURE_USERNAME_AT_FIRST_SIGNING"] = True


@pytest.fixture
def sign_routes(app):
    add_signing_act(app, ACT, "Release a test batch", {Meaning.approval, Meaning.responsibility})
    app.add_url_rule("/api/v1/test-sign", "test_api_sign", _sign_view, methods=["POST"])
    app.add_url_rule("/test-sign", "test_web_sign", _sign_view, methods=["POST"])
    return app


def _token(client, username) -> dict[str, str]:
    response = client.post("/api/v1/auth/tokens",
                           json={"username": username, "password": TEST_PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}"}


def _api_sign(client, headers, **body):
    return client.post("/api/v1/test-sign", headers=headers,
                       json={"password": TEST_PASSWORD, "meaning": "approval", **body})


def _signatures(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(Signature)).all())


def test_the_first_signing_of_a_token_needs_the_user_id_later_ones_the_password(
        signing_app, sign_routes, app, client, make_user):
    make_user("qa", username="quinn")
    headers = _token(client, "quinn")
    assert client.get("/api/v1/auth/signing", headers=headers).json["username_required"] is True
    missing = _api_sign(client, headers)
    assert missing.status_code == 400 and missing.json["error"] == "username_required"
    assert "username" in missing.json["details"]["fields"] and _signatures(app) == 0
    first = _api_sign(client, headers, username="quinn")
    assert first.status_code == 201, first.json
    assert client.get("/api/v1/auth/signing", headers=headers).json["username_required"] is False
    later = _api_sign(client, headers)
    assert later.status_code == 201, "later signings: the password alone"
    fresh = _token(client, "quinn")
    assert _api_sign(client, fresh).status_code == 400, "a new session starts again"
    with app.app_context():
        signed = db.session.scalars(select(ApiToken).where(
            ApiToken.first_signed_at.is_not(None))).all()
        assert len(signed) == 1


def test_a_user_id_not_the_sessions_is_refused_and_counted(signing_app, sign_routes, app,
                                                           client, make_user):
    make_user("qa", username="quinn")
    make_user("qa", username="olga")
    headers = _token(client, "quinn")
    refused = _api_sign(client, headers, username="olga")
    assert refused.status_code == 401 and refused.json["error"] == "signer_mismatch"
    assert _signatures(app) == 0
    with app.app_context():
        quinn = db.session.scalar(select(User).where(User.username == "quinn"))
        assert quinn.failed_logins == 1


def test_the_rule_is_on_by_default(sign_routes, app, client, make_user):
    make_user("qa", username="quinn")
    headers = _token(client, "quinn")
    refused = _api_sign(client, headers)
    assert refused.status_code == 400 and refused.json["error"] == "username_required"
    assert _signatures(app) == 0


@pytest.fixture
def rule_off(app_config):
    """A lab that turned the rule off (not recommended)."""
    app_config["SIGNATURE_USERNAME_AT_FIRST_SIGNING"] = False


def test_a_given_user_id_is_checked_even_when_not_required(rule_off, sign_routes, app,
                                                           client, make_user):
    make_user("qa", username="quinn")
    make_user("qa", username="olga")
    headers = _token(client, "quinn")
    assert _api_sign(client, headers).status_code == 201, "the setting is off"
    assert _api_sign(client, headers, username="olga").status_code == 401


def test_the_web_session_needs_the_user_id_at_its_first_signing(signing_app, sign_routes, app,
                                                                client, make_user, clock):
    make_user("qa", username="quinn")
    web_login(client, "quinn")

    def sign(username: str = ""):  # blank: the user id field left empty
        return client.post("/test-sign", data={"password": TEST_PASSWORD, "meaning": "approval",
                                               "csrf_token": csrf_token(client, "/"),
                                               "username": username})

    assert sign().status_code == 400
    assert sign(username="quinn").status_code == 201
    assert sign().status_code == 201
    clock.advance(minutes=16)  # idle: the session ends; a new login is a new session
    web_login(client, "quinn")
    assert sign().status_code == 400
    with app.app_context():
        sessions = db.session.scalars(select(LoginSession).order_by(LoginSession.id)).all()
        assert [s.first_signed_at is not None for s in sessions] == [True, False]


def test_acts_expose_only_their_meanings_and_the_service_refuses_the_others(
        sign_routes, app, client, make_user):
    make_user("qa", username="quinn")
    headers = _token(client, "quinn")
    info = client.get("/api/v1/auth/signing", headers=headers).json
    assert {"name": ACT, "label": "Release a test batch",
            "meanings": ["approval", "responsibility"]} in info["acts"]
    with app.app_context():
        offered = [value for value, _label in meaning_choices(ACT)]
    assert offered == ["approval", "responsibility"]
    for meaning in offered:
        assert _api_sign(client, headers, meaning=meaning,
                         username="quinn").status_code == 201, meaning
    for meaning in ("review", "rejection"):
        refused = _api_sign(client, headers, meaning=meaning, username="quinn")
        assert refused.status_code == 400 and "meaning" in refused.json["details"]["fields"]


DIALOG = ('{% from "auth/_signature_fields.html" import signature_fields %}'
          '{{ signature_fields(signing_meanings(act), signing_username_required()) }}')


def test_the_dialog_fields_offer_the_acts_meanings_and_the_user_id_when_needed(
        signing_app, sign_routes, app, make_user):
    user_id, _ = make_user("qa", username="quinn")
    with app.test_request_context("/"):
        from lims.auth.signing import set_signing_session

        with app.app_context():
            user = db.session.get(User, user_id)
            _raw, record = services.start_web_session(user)
            set_signing_session(record)
            first = render_template_string(DIALOG, act=ACT)
            record.first_signed_at = record.created_at
            later = render_template_string(DIALOG, act=ACT)
            db.session.rollback()
    options = re.findall(r'<option value="([a-z]+)"', first)
    assert options == ["approval", "responsibility"]
    assert 'name="username"' in first and 'autocomplete="username"' in first
    assert 'name="username"' not in later and 'name="password"' in later
    assert "<script" not in first and "style=" not in first
