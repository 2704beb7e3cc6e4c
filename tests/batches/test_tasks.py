"""The batches package's sweep jobs with a controlled clock (SPEC §4; issue 6).

MSC default template: seeding → media change due 72 h later, overdue after 12 h of grace.
The whole module runs with the lab in Europe/Prague, so stored UTC and shown local
times differ.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lims.alerts.models import Alert
from lims.audit import AuditEntry
from lims.db import db

LAB_TZ = ZoneInfo("Europe/Prague")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "TIMEZONE": "Europe/Prague"}


def sweep(runner) -> str:
    result = runner.invoke(args=["lims", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def open_alerts(app, kind: str = "overdue_step") -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(Alert).where(Alert.kind == kind,
                                                      Alert.resolved_at.is_(None)))
        return [{"id": a.id, "entity_type": a.entity_type, "entity_id": a.entity_id,
                 "batch_id": a.batch_id, "summary": a.summary} for a in rows]


def all_alerts(app, kind: str = "overdue_step") -> list[Alert]:
    with app.app_context():
        alerts = list(db.session.scalars(select(Alert).where(Alert.kind == kind)
                                         .order_by(Alert.id)))
        db.session.expunge_all()
        return alerts


def pending_step(lab, batch) -> dict:
    steps = lab.client.get(f"/api/v1/batches/{batch['id']}/steps", headers=lab.tech).json
    return next(s for s in steps if s["status"] in ("pending", "overdue"))


@pytest.fixture
def seeded(lab):
    """An MSC batch seeded now: its media change is due in 72 h, overdue after 84 h."""
    batch = lab.batch("MSC")
    lab.step(batch, "seeding")
    return batch


def refresh_tokens(lab, api_headers) -> None:
    lab.tech = api_headers("technician")  # tokens live 8 hours; the clock moved days


def test_not_overdue_inside_the_grace_overdue_after_it(app, runner, lab, seeded, clock,
                                                       api_headers):
    step = pending_step(lab, seeded)
    clock.advance(hours=72 + 11, minutes=59)
    assert "opened': 0" in sweep(runner)
    assert open_alerts(app) == []
    clock.advance(minutes=2)
    assert "opened': 1" in sweep(runner)
    [alert] = open_alerts(app)
    assert alert["entity_type"] == "culture_step" and alert["entity_id"] == str(step["id"])
    assert alert["batch_id"] == seeded["id"]
    due_local = datetime.fromisoformat(step["due_at"]).astimezone(LAB_TZ)
    assert alert["summary"] == (f"Media change of batch {seeded['batch_number']} is overdue: "
                                f"due {due_local:%Y-%m-%d %H:%M %Z} (grace 12 h)")
    refresh_tokens(lab, api_headers)
    assert pending_step(lab, seeded)["status"] == "overdue"


def test_one_alert_however_many_sweeps_run(app, runner, seeded, clock):
    clock.advance(hours=85)
    for _ in range(4):
        sweep(runner)
    assert len(all_alerts(app)) == 1
    with app.app_context():
        created = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.entity_type == "alert", AuditEntry.action == "create"))
    assert created == 1, "idempotent sweeps leave no further audit entries"


def test_alert_is_resolved_when_the_step_is_logged(app, runner, lab, seeded, clock,
                                                   api_headers):
    clock.advance(hours=85)
    sweep(runner)
    refresh_tokens(lab, api_headers)
    lab.step(seeded, "media_change")
    assert "resolved': 1" in sweep(runner)
    [alert] = all_alerts(app)
    assert alert.resolved_at is not None and alert.resolved_at <= clock.now()
    assert alert.resolution == "cause resolved"
    assert open_alerts(app) == [], "the next media change is not due yet"
    clock.advance(hours=85)
    sweep(runner)
    assert len(open_alerts(app)) == 1, "the next one is late again: a new alert"


def test_alert_is_resolved_when_the_batch_leaves_culture(app, runner, lab, seeded, clock,
                                                         api_headers):
    clock.advance(hours=85)
    sweep(runner)
    refresh_tokens(lab, api_headers)
    lab.step(seeded, "harvest", cell_count=50_000_000, viability_pct=90.0)
    assert "resolved': 1" in sweep(runner)
    assert open_alerts(app) == []


def test_a_steps_due_time_moved_later_resolves_its_alert(app, runner, lab, seeded, clock,
                                                         api_headers):
    clock.advance(hours=85)
    sweep(runner)
    refresh_tokens(lab, api_headers)
    lab.step(seeded, "passage")  # reschedules the pending media change 72 h from now
    sweep(runner)
    assert open_alerts(app) == []


def test_overdue_at_follows_due_time_and_grace(app, seeded, lab):
    from batches.models import CultureStep

    step_id = pending_step(lab, seeded)["id"]
    with app.app_context():
        step = db.session.get(CultureStep, step_id)
        assert step.overdue_at == step.due_at + timedelta(hours=12)
        step.grace_hours = 0
        assert step.overdue_at == step.due_at
        step.due_at = step.due_at + timedelta(hours=1)
        assert step.overdue_at == step.due_at
        db.session.rollback()


def test_overdue_step_listeners_hear_of_each_new_overdue_step_once(app, runner, seeded,
                                                                   clock):
    from batches.tasks import add_overdue_step_listener

    heard = []
    add_overdue_step_listener(app, lambda step: heard.append((step.id, step.batch_id)))
    clock.advance(hours=85)
    for _ in range(3):
        sweep(runner)
    [alert] = open_alerts(app)
    assert heard == [(int(alert["entity_id"]), seeded["id"])]


def test_the_sweep_reads_only_what_is_due(app, seeded, clock):
    """The overdue query is answered from the (status, overdue_at) index."""
    from sqlalchemy import text

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("EXPLAIN QUERY PLAN is SQLite's; the PostgreSQL plan is in the benchmark")
        plan = db.session.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM culture_step "
            "WHERE status = :status AND overdue_at < :now"),
            {"status": "pending", "now": "2100-01-01"}).all()
        assert any("ix_culture_step_pending_overdue" in row[-1] for row in plan), plan


# -- doses -------------------------------------------------------------------------------


def formulate(lab, product: str) -> tuple[dict, list[dict]]:
    batch = lab.harvested(product)
    return batch, lab.post(f"/batches/{batch['id']}/doses",
                           {"count": 2, "cells_per_dose": 10_000_000, "volume_ml": 10.0}).json


def set_dose_status(app, dose_id: int, status: str) -> None:
    """As the custody service (labels issue) will when a dose is administered or disposed."""
    from batches.models import Dose

    with app.app_context():
        db.session.get(Dose, dose_id).status = status
        db.session.commit()


def test_dose_expiring_alert_opens_inside_the_window_and_resolves_when_disposed(
        app, runner, lab, clock):
    batch, doses = formulate(lab, "MSC")  # shelf life one year
    sweep(runner)
    assert open_alerts(app, "dose_expiring") == []
    expires = datetime.fromisoformat(doses[0]["expires_at"])
    clock.advance(seconds=(expires - clock.now()).total_seconds() - 72 * 3600 + 60)
    assert "expiring_doses: {'opened': 2" in sweep(runner)
    alerts = {a["entity_id"]: a for a in open_alerts(app, "dose_expiring")}
    assert set(alerts) == {str(d["id"]) for d in doses}
    first = alerts[str(doses[0]["id"])]
    assert first["batch_id"] == batch["id"]
    assert first["summary"] == (f"Dose {doses[0]['code']} of batch {batch['batch_number']} "
                                f"expires {expires.astimezone(LAB_TZ):%Y-%m-%d %H:%M %Z}")
    set_dose_status(app, doses[0]["id"], "disposed")
    assert "expiring_doses: {'opened': 0, 'resolved': 1}" in sweep(runner)
    clock.advance(hours=80)  # the second dose is now past its expiry, still in stock
    sweep(runner)
    [still] = open_alerts(app, "dose_expiring")
    assert still["entity_id"] == str(doses[1]["id"]), "an expired dose in stock keeps its alert"
    set_dose_status(app, doses[1]["id"], "administered")
    sweep(runner)
    assert open_alerts(app, "dose_expiring") == []


def test_the_expiry_window_is_configurable(app, runner, lab):
    app.config["DOSE_EXPIRY_WARNING_HOURS"] = 24
    formulate(lab, "NK")  # fresh, 48 h shelf life: inside 72 h, not inside 24 h
    sweep(runner)
    assert open_alerts(app, "dose_expiring") == []
    app.config["DOSE_EXPIRY_WARNING_HOURS"] = 72
    sweep(runner)
    assert len(open_alerts(app, "dose_expiring")) == 2


# -- where people see them -----------------------------------------------------------


def test_dashboard_shows_the_alert_linked_to_the_batch_in_lab_time(app, client, runner, seeded,
                                                                   clock, login_as):
    clock.advance(hours=85)
    sweep(runner)
    [alert] = all_alerts(app)
    login_as("technician")
    page = client.get("/").get_data(as_text=True)
    assert f'<a href="/batches/{seeded["id"]}">{alert.summary}</a>' in page
    assert f"{alert.opened_at.astimezone(LAB_TZ):%Y-%m-%d %H:%M %Z}" in page
    assert client.get(f"/batches/{seeded['id']}").status_code == 200


def test_api_lists_the_alert_with_its_batch_in_utc(app, client, runner, seeded, clock,
                                                   api_headers):
    clock.advance(hours=85)
    sweep(runner)
    listed = client.get(f"/api/v1/alerts?open=true&batch_id={seeded['id']}",
                        headers=api_headers("qa")).json
    [alert] = listed
    assert alert["kind"] == "overdue_step" and alert["batch_id"] == seeded["id"]
    opened = datetime.fromisoformat(alert["opened_at"])
    assert opened.utcoffset() == timedelta(0), "stored and answered in UTC"


def test_links_reach_the_batch_and_dose_pages(app, seeded, lab):
    from lims.extension_points import entity_url

    step_id = pending_step(lab, seeded)["id"]
    with app.test_request_context():
        assert entity_url("batch", seeded["id"]) == f"/batches/{seeded['id']}"
        assert entity_url("culture_step", step_id) == f"/batches/{seeded['id']}"
        assert entity_url("dose", 7) == "/doses/7"
