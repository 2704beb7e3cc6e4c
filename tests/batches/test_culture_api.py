"""Culture steps on process templates: scheduling, passages, late entries, corrections."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from batches.models import CultureStep
from tests.fixtures.lab import ago, iso, now
from tests.fixtures.records import audit_entries, count_rows
from tests.fixtures.users import TEST_PASSWORD


def _steps(lab, batch):
    return lab.client.get(f"/api/v1/batches/{batch['id']}/steps", headers=lab.tech).json


def _batch(lab, batch):
    return lab.client.get(f"/api/v1/batches/{batch['id']}", headers=lab.tech).json


def test_seeding_starts_culture_and_schedules_the_msc_media_change(app, lab):
    batch = lab.batch("MSC")
    performed = now() - timedelta(minutes=10)
    step = lab.step(batch, "seeding", performed_at=iso(performed), cell_count=5_000_000,
                    viability_pct=95.5, media_lot="LOT-1", incubator="INC-1")
    assert step["type"] == "seeding" and step["status"] == "done"
    assert step["performed_by"] and step["late_entry"] is False
    assert _batch(lab, batch)["status"] == "in_culture"
    [done, pending] = _steps(lab, batch)
    assert pending["type"] == "media_change" and pending["status"] == "pending"
    assert pending["grace_hours"] == 12
    assert datetime.fromisoformat(pending["due_at"]) == performed + timedelta(hours=72)
    assert audit_entries(app, "culture_step", step["id"])[0]["changes"]["type"] == \
        [None, "seeding"]
    status_change = audit_entries(app, "batch", batch["id"])[-1]["changes"]["status"]
    assert status_change == ["registered", "in_culture"]


def test_logging_the_due_step_fills_it_and_schedules_the_next(lab):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding", performed_at=ago(hours=80))
    pending_id = _steps(lab, batch)[1]["id"]
    media = lab.step(batch, "media_change")
    assert media["id"] == pending_id
    steps = _steps(lab, batch)
    assert [s["status"] for s in steps] == ["done", "done", "pending"]


def test_pending_step_turns_overdue_after_due_plus_grace(lab, clock, api_headers):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding")
    clock.advance(hours=80)
    lab.tech = api_headers("technician")  # tokens live 8 hours
    assert _steps(lab, batch)[1]["status"] == "pending"
    clock.advance(hours=5)
    assert _steps(lab, batch)[1]["status"] == "overdue"
    from batches import services

    with lab.client.application.app_context():
        assert [s.type for s in services.overdue_steps()] == ["media_change"]


def test_nk_feeding_every_48h_and_harvest_by_day_21(lab):
    batch = lab.batch("NK", "allogeneic")
    seeded = now() - timedelta(minutes=5)
    lab.step(batch, "seeding", performed_at=iso(seeded))
    pending = {s["type"]: s for s in _steps(lab, batch) if s["status"] == "pending"}
    assert datetime.fromisoformat(pending["feeding"]["due_at"]) == seeded + timedelta(hours=48)
    assert datetime.fromisoformat(pending["harvest"]["due_at"]) == seeded + timedelta(days=21)


def test_passage_beyond_the_template_maximum_is_refused(app, lab):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding", performed_at=ago(hours=10))
    for number in range(1, 6):
        assert lab.step(batch, "passage", passage=number)["passage"] == number
    refused = lab.step(batch, "passage", status=409, passage=6)
    assert "beyond the template's maximum P5" in refused.json["details"]["reasons"][0]
    refused = lab.step(batch, "passage", status=409)  # defaults to the next number, P6
    assert "P6" in refused.json["details"]["reasons"][0]
    assert count_rows(app, CultureStep) == 7  # seeding, 5 passages, 1 pending media change


def test_passage_numbers_only_go_up_and_belong_to_passages(lab):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding")
    assert lab.step(batch, "passage")["passage"] == 1
    refused = lab.step(batch, "passage", status=409, passage=1)
    assert "only go up" in refused.json["details"]["reasons"][0]
    bad = lab.step(batch, "media_change", status=400, passage=2)
    assert "passage" in bad.json["details"]["fields"]


def test_media_change_before_seeding_is_refused(app, lab):
    batch = lab.batch("MSC")
    refused = lab.step(batch, "media_change", status=409)
    assert "registered batch" in refused.json["details"]["reasons"][0]
    assert count_rows(app, CultureStep) == 0


def test_future_performed_at_is_refused_and_past_is_a_late_entry(app, lab):
    batch = lab.batch("MSC")
    future = lab.step(batch, "seeding", status=400, performed_at=iso(now() + timedelta(hours=1)))
    assert "performed_at" in future.json["details"]["fields"]
    skew = lab.step(batch, "seeding", performed_at=iso(now() + timedelta(seconds=30)))
    assert skew["late_entry"] is False
    recent = lab.step(batch, "media_change", performed_at=ago(minutes=20))
    assert recent["late_entry"] is False
    old = lab.step(lab.batch("MSC"), "seeding", performed_at=ago(hours=1, minutes=30))
    assert old["late_entry"] is True
    assert audit_entries(app, "culture_step", old["id"])[0]["changes"]["late_entry"] == \
        [None, True]


def test_performed_before_the_collection_is_refused(lab):
    patient = lab.patient()
    collection = lab.collection(patient, collected_at=ago(hours=3))
    batch = lab.batch(recipient=patient, collection=collection)
    bad = lab.step(batch, "seeding", status=400, performed_at=ago(hours=4))
    assert "performed_at" in bad.json["details"]["fields"]


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "dancing"}, "type"),
    ({"performed_at": "2026-01-01T10:00"}, "performed_at"),
    ({"viability_pct": 101}, "viability_pct"),
    ({"viability_pct": "90"}, "viability_pct"),
    ({"cell_count": -5}, "cell_count"),
    ({"cell_count": 2.5}, "cell_count"),
    ({"notes": "n" * 2001}, "notes"),
    ({"operator": "me"}, "operator"),
])
def test_bad_step_input_is_400_and_writes_nothing(app, lab, change, field, nothing_written):
    batch = lab.batch("MSC")
    with nothing_written():
        response = lab.client.post(f"/api/v1/batches/{batch['id']}/steps",
                                   json={"type": "seeding", **change}, headers=lab.tech)
    assert response.status_code == 400
    assert field in response.json["details"]["fields"]
    assert count_rows(app, CultureStep) == 0
    assert _batch(lab, batch)["status"] == "registered"


def test_harvest_moves_to_harvested_and_cancels_pending_steps(lab):
    batch = lab.batch("MSC")
    lab.step(batch, "seeding", performed_at=ago(hours=2))
    lab.step(batch, "harvest", cell_count=80_000_000, viability_pct=91.0)
    assert _batch(lab, batch)["status"] == "harvested"
    states = {s["type"]: s["status"] for s in _steps(lab, batch)}
    assert states == {"seeding": "done", "harvest": "done", "media_change": "cancelled"}
    lab.step(batch, "media_change", status=409)
    lab.step(batch, "cryopreservation", cell_count=80_000_000)


def test_on_hold_only_maintenance_steps(lab):
    batch = lab.batch("NK", "allogeneic")
    lab.step(batch, "seeding")
    lab.post(f"/batches/{batch['id']}/hold", {"reason": "deviation under review"}, status=200)
    lab.step(batch, "feeding")
    refused = lab.step(batch, "harvest", status=409)
    assert "on hold" in refused.json["details"]["reasons"][0]


# -- corrections ---------------------------------------------------------------------------


def test_correction_needs_a_reason_and_keeps_the_old_value(app, lab, nothing_written):
    batch = lab.batch("MSC")
    step = lab.step(batch, "seeding", cell_count=5_000_000, viability_pct=90.0)
    with nothing_written():
        no_reason = lab.client.patch(f"/api/v1/steps/{step['id']}",
                                     json={"cell_count": 6_000_000}, headers=lab.tech)
        assert no_reason.status_code == 400 and "reason" in no_reason.json["details"]["fields"]
        nothing = lab.client.patch(f"/api/v1/steps/{step['id']}", json={"reason": "typo"},
                                   headers=lab.tech)
        assert nothing.status_code == 400
    fixed = lab.client.patch(f"/api/v1/steps/{step['id']}",
                             json={"cell_count": 6_000_000, "reason": "transcription error"},
                             headers=lab.tech)
    assert fixed.status_code == 200, fixed.json
    assert fixed.json["cell_count"] == 6_000_000 and fixed.json["corrected"] is True
    last = audit_entries(app, "culture_step", step["id"])[-1]
    assert last["reason"] == "transcription error"
    assert last["changes"]["cell_count"] == [5_000_000, 6_000_000]


def test_correcting_a_pending_step_or_into_the_future_is_refused(lab, nothing_written):
    batch = lab.batch("MSC")
    done = lab.step(batch, "seeding")
    pending = _steps(lab, batch)[1]
    with nothing_written():
        refused = lab.client.patch(f"/api/v1/steps/{pending['id']}",
                                   json={"notes": "x", "reason": "y"}, headers=lab.tech)
        assert refused.status_code == 409
        future = lab.client.patch(f"/api/v1/steps/{done['id']}",
                                  json={"performed_at": iso(now() + timedelta(days=1)),
                                        "reason": "y"}, headers=lab.tech)
        assert future.status_code == 400
        assert lab.client.patch("/api/v1/steps/99999", json={"notes": "x", "reason": "y"},
                                headers=lab.tech).status_code == 404


def test_steps_due_today(lab, clock):
    batch = lab.batch("NK", "allogeneic")
    lab.step(batch, "seeding", performed_at=ago(hours=47))
    due = lab.client.get("/api/v1/steps/due", headers=lab.tech).json
    assert [(s["type"], s["batch_number"]) for s in due][:1] == \
        [("feeding", batch["batch_number"])]


# -- templates -------------------------------------------------------------------------------


def test_admin_revises_a_template_running_batches_keep_theirs(app, lab, admin, api_headers):
    running = lab.batch("MSC")
    templates = lab.client.get("/api/v1/process-templates", headers=lab.tech).json
    msc = next(t for t in templates if t["product"] == "MSC")
    assert msc["max_passage"] == 5 and len(msc["rules"]) == 3
    body = {"max_passage": 3, "reason": "process validation PV-12"}
    lab.post(f"/process-templates/{msc['id']}/revisions", body, status=403)
    # issue 12: a revision is a proposed change, in force once a QA officer approves it
    proposed = lab.post(f"/process-templates/{msc['id']}/revisions", body, headers=admin,
                        status=202).json
    assert proposed["status"] == "proposed" and proposed["content"]["max_passage"] == 3
    revised = lab.post(f"/process-template-changes/{proposed['id']}/approve",
                       {"password": TEST_PASSWORD, "meaning": "approval"},
                       headers=api_headers("qa"), status=200).json
    assert revised["result_version"] == 2
    current = lab.client.get("/api/v1/process-templates", headers=lab.tech).json
    revised = next(t for t in current if t["product"] == "MSC")
    assert revised["version"] == 2 and revised["max_passage"] == 3 and len(revised["rules"]) == 3
    assert audit_entries(app, "process_template", revised["id"])[0]["reason"] == \
        f"change #{proposed['id']} approved: process validation PV-12"
    lab.post(f"/process-templates/{msc['id']}/revisions", body, headers=admin, status=409)
    new = lab.batch("MSC")
    assert new["template_version"] == 2
    assert _batch(lab, running)["template_version"] == 1
    lab.step(new, "seeding")
    for number in (1, 2, 3):
        lab.step(new, "passage", passage=number)
    lab.step(new, "passage", status=409, passage=4)
    bad = lab.post(f"/process-templates/{revised['id']}/revisions",
                   {"reason": "x", "rules": [{"after_step": "seeding", "next_step": "nap",
                                              "interval_hours": 1, "grace_hours": 0}]},
                   headers=admin, status=400)
    assert "rules" in bad.json["details"]["fields"]


def test_admin_edits_a_product(app, lab, admin, nothing_written):
    body = {"description_code": "S1234", "reason": "ICCBBA code assigned"}
    with nothing_written():
        assert lab.client.patch("/api/v1/products/MSC", json=body,
                                headers=lab.tech).status_code == 403
    response = lab.client.patch("/api/v1/products/MSC", json=body, headers=admin)
    assert response.status_code == 200 and response.json["description_code"] == "S1234"
    with nothing_written():
        bad = lab.client.patch("/api/v1/products/MSC", json={**body, "description_code": "X1"},
                               headers=admin)
        assert bad.status_code == 400
        assert lab.client.patch("/api/v1/products/CAR", json=body,
                                headers=admin).status_code == 404
