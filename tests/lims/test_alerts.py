"""Alerts and the sweep: one open alert per (kind, entity), reconcile, acknowledge (SPEC §4)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, func, select

from batches.alerts import BatchAlert
from lims.alerts import services
from lims.alerts.models import Alert
from lims.alerts.services import Cause
from lims.db import db
from lims.extension_points import add_sweep_task


@pytest.fixture
def causes(app):
    """A sweep task whose causes the test controls."""
    current: list[Cause] = []

    def task(_now):
        opened, resolved = services.reconcile(BatchAlert.overdue_step, current)
        return {"opened": len(opened), "resolved": len(resolved)}

    add_sweep_task(app, "test_overdue", task)
    return current


def _open_count(app, kind="overdue_step"):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Alert).where(
            Alert.kind == kind, Alert.resolved_at.is_(None)))


def test_sweep_opens_one_alert_however_often_it_runs(app, runner, causes):
    causes.append(Cause("culture_step", "11", "Media change overdue"))
    for _ in range(3):
        result = runner.invoke(args=["lims", "sweep"])
        assert result.exit_code == 0, result.output
    assert _open_count(app) == 1


def test_alert_is_resolved_when_its_cause_is_gone(app, runner, causes):
    causes.append(Cause("culture_step", "11", "Media change overdue"))
    runner.invoke(args=["lims", "sweep"])
    causes.clear()
    result = runner.invoke(args=["lims", "sweep"])
    assert "resolved': 1" in result.output
    assert _open_count(app) == 0
    with app.app_context():
        alert = db.session.scalars(select(Alert)).one()
        assert alert.resolution == "cause resolved"


def test_database_refuses_a_second_open_alert_for_the_same_entity(app):
    with app.app_context():
        for _ in range(2):
            db.session.add(Alert(kind="overdue_step", entity_type="culture_step",
                                 entity_id="11", summary="x", severity=1,
                                 opened_at=__import__("lims.clock").clock.utcnow()))
        with pytest.raises(exc.IntegrityError):
            db.session.flush()


def test_a_resolved_alert_does_not_block_a_new_one(app, runner, causes):
    cause = Cause("culture_step", "11", "Media change overdue")
    causes.append(cause)
    runner.invoke(args=["lims", "sweep"])
    causes.clear()
    runner.invoke(args=["lims", "sweep"])
    causes.append(cause)
    runner.invoke(args=["lims", "sweep"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Alert)) == 2
    assert _open_count(app) == 1


def test_alerts_api_lists_open_ones_and_acknowledging_needs_a_comment(app, client, runner,
                                                                      causes, api_headers,
                                                                      nothing_written):
    causes.extend([Cause("culture_step", "1", "first"), Cause("culture_step", "2", "second")])
    runner.invoke(args=["lims", "sweep"])
    headers = api_headers("technician")
    listed = client.get("/api/v1/alerts?kind=overdue_step&open=true", headers=headers)
    assert listed.status_code == 200 and len(listed.json) == 2
    alert_id = listed.json[0]["id"]
    with nothing_written():
        refused = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers,
                              json={"comment": ""})
    assert refused.status_code == 400 and "comment" in refused.json["details"]["fields"]
    done = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers,
                       json={"comment": "Media changed late, deviation opened"})
    assert done.status_code == 200 and done.json["acknowledged_at"]
    assert done.json["resolved_at"] is None, "a state alert stays open until its cause is gone"
    with nothing_written():
        again = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=headers,
                            json={"comment": "twice"})
    assert again.status_code == 409
    order = client.get("/api/v1/alerts?open=true", headers=headers).json
    assert order[-1]["id"] == alert_id, "unacknowledged alerts come first"
    assert client.get("/api/v1/alerts?kind=bogus", headers=headers).status_code == 400
    with nothing_written():
        assert client.post("/api/v1/alerts/99999/acknowledge", headers=headers,
                           json={"comment": "x"}).status_code == 404


def test_identity_mismatch_alert_is_not_resolved_by_acknowledgement(app, make_user):
    """SPEC §3b: an event alert is closed by QA with an investigation; acknowledging it
    only says it was seen (it used to resolve it)."""
    user_id, _ = make_user("qa")
    from lims.auth.services import get_user

    with app.app_context():
        alert, created = services.raise_alert(
            BatchAlert.identity_mismatch, Cause("dose", "5", "Wrong patient scanned"))
        assert created
        again, created_again = services.raise_alert(
            BatchAlert.identity_mismatch, Cause("dose", "5", "Wrong patient scanned"))
        assert not created_again and again.id == alert.id
        services.acknowledge(alert, get_user(user_id), "Dose returned to storage")
        assert alert.resolved_at is None and alert.acknowledged_at is not None


def test_dashboard_shows_open_alerts_and_acknowledge_form(client, runner, causes, login_as):
    causes.append(Cause("culture_step", "1", "Media change for B-0001 overdue"))
    runner.invoke(args=["lims", "sweep"])
    login_as("technician")
    page = client.get("/").get_data(as_text=True)
    assert "Media change for B-0001 overdue" in page and "Acknowledge" in page


def test_sweep_changes_are_audited_as_the_scheduler(app, runner, causes, client, api_headers):
    causes.append(Cause("culture_step", "1", "overdue"))
    runner.invoke(args=["lims", "sweep"])
    entries = client.get("/api/v1/audit?entity_type=alert", headers=api_headers("qa")).json
    assert entries and entries[0]["actor"] == "scheduler"


def test_times_are_shown_in_the_lab_time_zone(app):
    from datetime import UTC, datetime

    from lims.web.filters import local

    def localtime(value):  # as the alerts list shows it: with the zone
        return local(value, "%Y-%m-%d %H:%M %Z")

    app.config["TIMEZONE"] = "Europe/Prague"
    with app.app_context():
        assert localtime(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "2026-07-01 14:00 CEST"


def test_unknown_time_zone_is_refused_at_start(app_config):
    from lims import create_app

    with pytest.raises(RuntimeError, match="time zone"):
        create_app({**app_config, "TIMEZONE": "Mars/Olympus"})
