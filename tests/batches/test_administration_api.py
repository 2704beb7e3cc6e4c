"""The bedside identity check before administration (SPEC §5)."""

from __future__ import annotations

import pytest

from lims.alerts.models import Alert
from tests.batches.dose_helpers import custody, dose_json, formulated, release
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH, audit_entries, count_rows


def _at_bedside(app, lab, expires_in_hours=None):
    batch, [dose, other] = formulated(lab, expires_in_hours=expires_in_hours)
    release(app, batch["id"])
    dose = dose_json(lab, dose["id"])
    for event in ("retrieved", "shipped", "received", "thawed"):
        custody(lab, dose, event, location="Ward 5")
    patient = lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}", headers=lab.tech).json
    return batch, dose, other, patient


def _administer(lab, dose, patient, status=200, audited=(), **overrides):
    body = {"patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
            "scanned_code": dose["barcodes"]["matrix"], **overrides}
    return lab.post(f"/doses/{dose['id']}/administer", body, status=status, audited=audited)


def test_matching_dose_and_patient_are_administered(app, lab):
    _batch, dose, _other, patient = _at_bedside(app, lab)
    answer = _administer(lab, dose, patient, location="Ward 5, bed 2").json
    assert answer["status"] == "administered"
    last = answer["custody"][-1]
    assert last["event"] == "administered" and last["to_location"] == "Ward 5, bed 2"
    assert patient["code"] in last["notes"]
    assert count_rows(app, Alert) == 0
    again = _administer(lab, dose, patient, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert any("administered" in r for r in again["details"]["reasons"])


@pytest.mark.parametrize(("change", "needle"), [
    ({"patient_code": "PT-9999"}, "not the dose's intended recipient"),
    ({"patient_date_of_birth": "1970-01-03"}, "not the intended recipient's"),
    ("other_dose", "not dose"),
    ("din_only", "identifies the collection"),
])
def test_an_identity_mismatch_is_refused_audited_and_alerted(app, lab, change, needle):
    batch, dose, other, patient = _at_bedside(app, lab)
    if change == "other_dose":
        change = {"scanned_code": other["barcodes"]["matrix"]}
    elif change == "din_only":
        change = {"scanned_code": dose["barcodes"]["din"]}
    refused = _administer(lab, dose, patient, status=409, audited=KEPT_IDENTITY_MISMATCH,
                          **change).json
    assert refused["error"] == "identity_mismatch"
    assert any(needle in r for r in refused["details"]["reasons"]), refused
    assert dose_json(lab, dose["id"])["status"] == "delivered"
    [entry] = [e for e in audit_entries(app, "dose", dose["id"])
               if e["action"] == "identity_mismatch"]
    assert any(needle in r for r in entry["changes"]["reasons"][1])
    alerts = lab.client.get("/api/v1/alerts?kind=identity_mismatch&open=true",
                            headers=lab.tech).json
    assert [(a["entity_type"], a["entity_id"]) for a in alerts] == [("dose", str(dose["id"]))]


def test_a_dose_not_released_or_expired_is_a_mismatch(app, lab, clock):
    _batch, [dose, _] = formulated(lab)
    dose = dose_json(lab, dose["id"])
    patient = lab.client.get(f"/api/v1/subjects/{_batch['recipient_id']}",
                             headers=lab.tech).json
    refused = _administer(lab, dose, patient, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert any("not released" in r for r in refused["details"]["reasons"])
    assert count_rows(app, Alert) == 1

    _b2, dose2, _o2, patient2 = _at_bedside(app, lab, expires_in_hours=3)
    clock.advance(hours=4)
    refused = _administer(lab, dose2, patient2, status=409, audited=KEPT_IDENTITY_MISMATCH).json
    assert any("expired" in r for r in refused["details"]["reasons"])


def test_a_dose_still_in_storage_is_refused_without_an_identity_alert(app, lab):
    batch, [dose, _] = formulated(lab)
    release(app, batch["id"])
    dose = dose_json(lab, dose["id"])
    patient = lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}", headers=lab.tech).json
    refused = _administer(lab, dose, patient, status=409,
                          audited=["administration_refused dose"]).json
    assert any("cannot follow stored" in r for r in refused["details"]["reasons"])
    assert count_rows(app, Alert) == 0
    assert [e for e in audit_entries(app, "dose", dose["id"])
            if e["action"] == "administration_refused"]


def test_roles_and_bad_input(app, lab, admin):
    _batch, dose, _other, patient = _at_bedside(app, lab)
    _administer(lab, dose, patient, status=400, patient_date_of_birth="yesterday")
    body = {"patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
            "scanned_code": dose["barcodes"]["matrix"]}
    lab.post(f"/doses/{dose['id']}/administer", body, headers=admin, status=403)
    assert count_rows(app, Alert) == 0
