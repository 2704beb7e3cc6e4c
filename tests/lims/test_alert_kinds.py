"""Alert kinds are registered by the feature packages; event alerts are closed by QA with a
written investigation, never by whoever caused them (SPEC §2 Alert, §3b; issue 10, 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import exc, select

from batches.alerts import BatchAlert
from lims.alerts import services
from lims.alerts.models import Alert
from lims.alerts.registry import AlertKindSpec, alert_kinds, register_alert_kind
from lims.alerts.services import Cause
from lims.db import db
from tests.fixtures.records import audit_entries

ALERTS = Path(__file__).resolve().parents[2] / "lims" / "alerts"


def test_the_core_names_no_alert_kind():
    kinds = {"overdue_step", "qc_pending", "dose_expiring", "identity_mismatch",
             "release_suspended", "post_release_failure", "lookback"}
    for path in ALERTS.glob("*.py"):
        words = set(re.findall(r"[a-z_]+", path.read_text()))
        assert not kinds & words, (path.name, kinds & words)


def test_every_spec_kind_is_registered_with_its_closing(app):
    kinds = alert_kinds(app)
    assert set(kinds) >= {"overdue_step", "qc_pending", "dose_expiring", "identity_mismatch",
                          "release_suspended", "post_release_failure", "lookback"}
    for name in ("identity_mismatch", "release_suspended", "post_release_failure", "lookback"):
        assert kinds[name].closed_by_investigation and kinds[name].closing_roles == {"qa"}
    for name in ("overdue_step", "qc_pending", "dose_expiring"):
        assert not kinds[name].closed_by_investigation
    assert min(spec.severity for spec in kinds.values()) == kinds["post_release_failure"].severity
    assert [s.name for s in kinds.values() if s.severity == 0] == ["post_release_failure"]


def test_unknown_and_clashing_kinds_are_programming_errors(app):
    with app.app_context():
        with pytest.raises(ValueError, match="unknown alert kind"):
            services.raise_alert("bogus", Cause("dose", "1", "x"))
        with pytest.raises(ValueError, match="closed by investigation"):
            services.reconcile(BatchAlert.identity_mismatch, [])
    with pytest.raises(ValueError, match="twice"):
        register_alert_kind(app, AlertKindSpec("overdue_step", 5))


def test_alert_batch_id_references_a_batch(app):
    with app.app_context():
        db.session.add(Alert(kind="overdue_step", entity_type="culture_step", entity_id="1",
                             batch_id=987654, summary="x", severity=1,
                             opened_at=__import__("lims.clock").clock.utcnow()))
        with pytest.raises(exc.IntegrityError):
            db.session.flush()


@pytest.fixture
def mismatch(app, make_user):
    """An identity-mismatch alert caused by a QA officer (the worst case: a closer-role)."""
    causer_id, causer = make_user("qa")
    with app.app_context():
        alert, _ = services.raise_alert(BatchAlert.identity_mismatch, Cause(
            "dose", "77", "Wrong patient scanned", caused_by_id=causer_id))
        db.session.commit()
        return alert.id, causer


def _token(client, username):
    from tests.fixtures.users import TEST_PASSWORD

    response = client.post("/api/v1/auth/tokens",
                           json={"username": username, "password": TEST_PASSWORD})
    return {"Authorization": f"Bearer {response.json['token']}"}


def test_qa_closes_an_event_alert_with_an_investigation(app, client, mismatch, api_headers):
    alert_id, causer = mismatch
    listed = client.get("/api/v1/alerts?kind=identity_mismatch", headers=api_headers()).json
    assert listed[0]["caused_by"] == causer and listed[0]["closing"] == "investigation"
    assert {"id", "kind", "entity_type", "entity_id", "batch_id", "summary", "severity",
            "opened_at", "resolved_at", "acknowledged_at"} <= set(listed[0])
    qa = api_headers("qa")
    closed = client.post(f"/api/v1/alerts/{alert_id}/close", headers=qa,
                         json={"investigation": "Label swap at the ward; dose quarantined."})
    assert closed.status_code == 200, closed.json
    assert closed.json["resolved_at"] and closed.json["closed_by"]
    assert closed.json["investigation"] == "Label swap at the ward; dose quarantined."
    again = client.post(f"/api/v1/alerts/{alert_id}/close", headers=qa,
                        json={"investigation": "twice"})
    assert again.status_code == 409
    changes = [e["changes"] for e in audit_entries(app, "alert", alert_id)]
    assert "investigation" in changes[-1]


def _unchanged(app, alert_id):
    with app.app_context():
        alert = db.session.get(Alert, alert_id)
        return alert.resolved_at is None and alert.investigation is None


def test_whoever_caused_it_technicians_and_admins_cannot_close(app, client, mismatch,
                                                                api_headers):
    alert_id, causer = mismatch
    body = {"investigation": "my own mistake, all fine"}
    own = client.post(f"/api/v1/alerts/{alert_id}/close", headers=_token(client, causer),
                      json=body)
    assert own.status_code == 409
    assert "caused the alert" in own.json["details"]["reasons"][0]
    for role in ("technician", "admin"):
        refused = client.post(f"/api/v1/alerts/{alert_id}/close", headers=api_headers(role),
                              json=body)
        assert refused.status_code == 403, refused.json
    empty = client.post(f"/api/v1/alerts/{alert_id}/close", headers=api_headers("qa"),
                        json={"investigation": ""})
    assert empty.status_code == 400 and "investigation" in empty.json["details"]["fields"]
    acknowledged = client.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                               headers=api_headers("admin"), json={"comment": "seen"})
    assert acknowledged.status_code == 200 and acknowledged.json["resolved_at"] is None
    assert _unchanged(app, alert_id)


def test_a_state_alert_is_not_closed_by_hand(app, client, api_headers):
    with app.app_context():
        alert, _ = services.raise_alert(BatchAlert.overdue_step,
                                        Cause("culture_step", "5", "Media change overdue"))
        db.session.commit()
        alert_id = alert.id
    refused = client.post(f"/api/v1/alerts/{alert_id}/close", headers=api_headers("qa"),
                          json={"investigation": "done"})
    assert refused.status_code == 409
    assert "closes by itself" in refused.json["details"]["reasons"][0]
    assert _unchanged(app, alert_id)
    with app.app_context():
        assert db.session.scalar(select(Alert.resolved_at).where(Alert.id == alert_id)) is None
