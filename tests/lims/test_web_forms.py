"""The web form layer (lims.web.forms.submit) and the page-section registry
(lims.extension_points.add_section), on a real app with a page of the test's own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Blueprint, get_flashed_messages, jsonify, render_template_string, request
from jinja2 import ChoiceLoader, DictLoader
from markupsafe import escape
from marshmallow import fields, validate
from sqlalchemy import select

from batches.alerts import BatchAlert
from lims.alerts import services as alerts
from lims.alerts.models import Alert
from lims.db import db
from lims.errors import BadRequest, Conflict
from lims.extension_points import add_section
from lims.schemas import StrictSchema, text
from lims.web.forms import Done, InvalidForm, submit
from tests.fixtures.users import csrf_token

pytestmark = pytest.mark.fresh_app  # these tests add routes to their app


class CountSchema(StrictSchema):
    count = fields.Integer(required=True, validate=validate.Range(1, 10))
    at = fields.AwareDateTime()
    note = text(20, required=False)


@pytest.fixture
def form_page(app, client, login_as):
    """``POST /form-test?then=…`` submits a count (``GET`` shows the page);
    ``/form-test/flashed`` reads the flashes. Returns ``post(then, **form)`` and the list of
    what the action was called with."""
    calls: list[tuple[dict, str]] = []
    bp = Blueprint("form_test", __name__)

    def page(status: int = 200, errors: dict | None = None):
        return jsonify(errors=errors or {}), status

    def action(data: dict, user) -> int:
        calls.append((data, user.username))
        then = request.args.get("then")
        if then == "conflict":
            raise Conflict("Not now.", ["the first reason", "the second reason"])
        if then == "bad-field":
            raise BadRequest("Bad count.", details={"fields": {"count": ["too odd"]}})
        if then == "unknown":
            raise InvalidForm({"count": ["no such count"]})
        return data["count"]

    @bp.route("/form-test", methods=["GET", "POST"])
    def form_test():
        return submit(CountSchema(), action, page=page,
                      roles=("qa",) if request.args.get("then") == "qa-only" else (),
                      done=lambda count: Done(f"{count} counted.", "/somewhere"))

    @bp.route("/form-test/flashed")
    def flashed():
        return jsonify(flashed=get_flashed_messages(with_categories=True))

    app.register_blueprint(bp)
    username = login_as("technician")
    token = csrf_token(client, "/")

    def post(then: str = "", **form):
        return client.post(f"/form-test?then={then}", data={"csrf_token": token, **form})

    post.username = username
    post.flashed = lambda: client.get("/form-test/flashed").json["flashed"]
    return post, calls


def test_a_valid_form_calls_the_action_as_the_user_then_flashes_and_redirects(app, form_page):
    post, calls = form_page
    app.config["TIMEZONE"] = "Europe/Prague"
    response = post(count="3", at="2026-07-01T14:00", note="  ")
    assert response.status_code == 302 and response.headers["Location"] == "/somewhere"
    [(data, username)] = calls
    assert username == post.username
    assert data == {"count": 3, "at": datetime(2026, 7, 1, 12, 0, tzinfo=UTC)}, \
        "blank fields are absent; a datetime-local is the lab's wall clock"
    assert post.flashed() == [["success", "3 counted."]]


def test_invalid_fields_show_the_page_again_with_400_and_never_call_the_action(form_page):
    post, calls = form_page
    response = post(count="eleven", note="x" * 21)
    assert response.status_code == 400
    assert set(response.json["errors"]) == {"count", "note"}
    assert calls == [] and post.flashed() == []


def test_a_refusal_is_flashed_with_its_reasons_and_the_page_answers_its_status(form_page):
    post, _calls = form_page
    response = post("conflict", count="3", at="2026-07-01T14:00")
    assert response.status_code == 409 and response.json["errors"] == {}
    assert post.flashed() == [["error", "Not now."], ["error", "the first reason"],
                              ["error", "the second reason"]]
    assert post("bad-field", count="3", at="2026-07-01T14:00").status_code == 400
    assert post.flashed() == [["error", "Bad count."], ["error", "count: ['too odd']"]]


def test_a_value_the_action_finds_invalid_is_a_field_error(form_page):
    post, _calls = form_page
    response = post("unknown", count="3", at="2026-07-01T14:00")
    assert response.status_code == 400
    assert response.json["errors"] == {"count": ["no such count"]}
    assert post.flashed() == []


def test_the_page_shows_on_get_and_the_role_check_comes_before_the_form(client, form_page):
    post, calls = form_page
    shown = client.get("/form-test?then=qa-only")
    assert shown.status_code == 200 and shown.json == {"errors": {}}
    assert post("qa-only", count="3", at="2026-07-01T14:00").status_code == 403
    assert calls == []


def test_acknowledging_an_alert_on_the_page(app, client, login_as):
    with app.app_context():
        alert, _created = alerts.raise_alert(BatchAlert.overdue_step,
                                             alerts.Cause("culture_step", "1", "Step overdue"))
        db.session.commit()
        alert_id = alert.id
    login_as("technician")
    token = csrf_token(client, "/alerts")
    path = f"/alerts/{alert_id}/acknowledge"
    refused = client.post(path, data={"csrf_token": token, "comment": "  "})
    assert refused.status_code == 400
    assert "Acknowledging an alert needs a comment." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Alert, alert_id).acknowledged_at is None
    done = client.post(path, data={"csrf_token": token, "comment": "On it"},
                       headers={"Referer": "/alerts?show=all"})
    assert done.status_code == 302 and done.headers["Location"] == "/alerts?show=all"
    assert "Alert acknowledged." in client.get("/alerts").get_data(as_text=True)
    again = client.post(path, data={"csrf_token": token, "comment": "Again"})
    assert again.status_code == 409
    assert "already acknowledged" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Alert.acknowledgement)).one() == "On it"


def test_page_sections_render_in_order_with_the_page_context(app):
    app.jinja_env.loader = ChoiceLoader([
        DictLoader({"test/_section.html": "<p id=first>{{ thing }} for {{ who }}</p>"}),
        app.jinja_env.loader])
    add_section(app, "test.page", lambda context: f"<p id=third>{escape(context['thing'])}</p>",
                order=30)
    add_section(app, "test.page", lambda context: None, order=20)  # nothing to show
    add_section(app, "test.page", "test/_section.html", order=10)
    with app.test_request_context():
        html = render_template_string(
            "{% set who = 'the bench' %}<main>{{ page_sections('test.page') }}</main>"
            "<aside>{{ page_sections('test.other') }}</aside>", thing="<batch>")
    assert html == ("<main><p id=first>&lt;batch&gt; for the bench</p>\n"
                    "<p id=third>&lt;batch&gt;</p></main><aside></aside>")
