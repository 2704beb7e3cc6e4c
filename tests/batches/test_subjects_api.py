"""Subjects, recipient screening and donor eligibility through the API (SPEC §2, §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batches.models import DonorScreening, RecipientScreening, Subject
from tests.fixtures.lab import NEGATIVE, ago, iso, now
from tests.fixtures.records import KEPT_WRONG_PASSWORD, audit_entries, count_rows
from tests.fixtures.users import TEST_PASSWORD

PATIENT = {"code": "PT-1", "kind": "patient", "initials": "ab", "date_of_birth": "1970-01-02"}
CONTRAINDICATIONS = ["active_malignancy", "pregnancy_or_breastfeeding", "immunodeficiency",
                     "unstable_mental_state", "acute_inflammation", "clotting_disorder"]


def test_register_a_patient_is_audited(app, client, tech):
    response = client.post("/api/v1/subjects", json=PATIENT, headers=tech)
    assert response.status_code == 201
    body = response.json
    assert body["code"] == "PT-1" and body["initials"] == "AB"
    assert body["recipient_status"] == "unscreened" and body["donor_status"] is None
    [entry] = audit_entries(app, "subject", body["id"])
    assert entry["action"] == "create" and entry["changes"]["code"] == [None, "PT-1"]
    assert client.get(f"/api/v1/subjects/{body['id']}", headers=tech).json["code"] == "PT-1"
    listed = client.get("/api/v1/subjects?kind=patient", headers=tech).json
    assert [s["code"] for s in listed] == ["PT-1"]


def test_duplicate_code_is_409(client, tech, nothing_written):
    assert client.post("/api/v1/subjects", json=PATIENT, headers=tech).status_code == 201
    with nothing_written():
        again = client.post("/api/v1/subjects", json=PATIENT, headers=tech)
    assert again.status_code == 409 and again.json["details"]["reasons"]


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "martian"}, "kind"),
    ({"date_of_birth": "yesterday"}, "date_of_birth"),
    ({"date_of_birth": 19700102}, "date_of_birth"),
    ({"code": "x" * 5000}, "code"),
    ({"code": 12345}, "code"),
    ({"initials": "A1"}, "initials"),
    ({"shoe_size": 44}, "shoe_size"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
])
def test_bad_subject_input_is_400_naming_the_field_and_writes_nothing(app, client, tech, change,
                                                                      field, nothing_written):
    with nothing_written():
        response = client.post("/api/v1/subjects", json={**PATIENT, **change}, headers=tech)
    assert response.status_code == 400, response.json
    assert field in response.json["details"]["fields"]
    assert count_rows(app, Subject) == 0


def test_missing_fields_and_non_object_bodies_are_400(client, tech, nothing_written):
    with nothing_written():
        missing = client.post("/api/v1/subjects", json={"code": "PT-1"}, headers=tech)
        assert missing.status_code == 400
        assert {"kind", "initials", "date_of_birth"} <= set(missing.json["details"]["fields"])
        assert client.post("/api/v1/subjects", json=[1, 2], headers=tech).status_code == 400
        assert client.post("/api/v1/subjects", data="not json", headers={
            **tech, "Content-Type": "application/json"}).status_code == 400


def test_admin_cannot_register_subjects_and_unknown_subject_is_404(client, admin, tech,
                                                                   nothing_written):
    with nothing_written():
        assert client.post("/api/v1/subjects", json=PATIENT, headers=admin).status_code == 403
    missing = client.get("/api/v1/subjects/999", headers=tech)
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


# -- recipient screening -----------------------------------------------------------------


def test_no_contraindication_clears_the_recipient(app, lab):
    patient = lab.patient(contraindications=None)
    body = lab.post(f"/subjects/{patient['id']}/recipient-screening",
                    {"contraindications": []}, status=200).json
    assert body["recipient_status"] == "cleared"
    assert body["recipient_screening"]["contraindications"] == []
    entries = audit_entries(app, "subject", patient["id"])
    assert entries[-1]["changes"]["recipient_status"] == ["unscreened", "cleared"]
    assert audit_entries(app, "recipient_screening", body["recipient_screening"]["id"])


@pytest.mark.parametrize("code", CONTRAINDICATIONS)
def test_any_one_contraindication_contraindicates(lab, code):
    patient = lab.patient(contraindications=None)
    body = lab.post(f"/subjects/{patient['id']}/recipient-screening",
                    {"contraindications": [code]}, status=200).json
    assert body["recipient_status"] == "contraindicated"
    assert body["recipient_screening"]["contraindications"] == [code]


def test_unknown_contraindication_is_400_and_donors_are_not_recipients(app, lab):
    patient = lab.patient(contraindications=None)
    bad = lab.post(f"/subjects/{patient['id']}/recipient-screening",
                   {"contraindications": ["flu"]}, status=400)
    assert "contraindications" in bad.json["details"]["fields"]
    assert lab.post(f"/subjects/{patient['id']}/recipient-screening",
                    {"contraindications": "none"}, status=400)
    donor = lab.donor(None)
    refused = lab.post(f"/subjects/{donor['id']}/recipient-screening",
                       {"contraindications": []}, status=409)
    assert "not a patient" in refused.json["details"]["reasons"][0]
    assert count_rows(app, RecipientScreening) == 0


# -- donor screening and eligibility -----------------------------------------------------


def test_all_negative_is_incomplete_until_qa_signs_eligible(app, lab):
    donor = lab.donor(None)
    assert donor["donor_status"] == "unscreened"
    body = lab.post(f"/subjects/{donor['id']}/donor-screening",
                    {"specimen_collected_at": ago(days=1), "markers": NEGATIVE}, status=200).json
    assert body["donor_status"] == "incomplete"
    signed = lab.post(f"/subjects/{donor['id']}/donor-eligibility",
                      {"password": TEST_PASSWORD, "meaning": "approval"}, headers=lab.qa,
                      status=200).json
    assert signed["donor_status"] == "eligible"
    signature = signed["donor_screening"]["eligibility_signature"]
    assert signature["meaning"] == "approval" and signature["printed_name"]
    changes = audit_entries(app, "donor_screening", body["donor_screening"]["id"])[-1]["changes"]
    assert changes["status"] == ["incomplete", "eligible"]


def test_any_reactive_marker_makes_the_donor_ineligible_and_refuses_signing(app, lab):
    donor = lab.donor(None)
    body = lab.post(f"/subjects/{donor['id']}/donor-screening",
                    {"specimen_collected_at": ago(days=1),
                     "markers": {**NEGATIVE, "syphilis": "reactive", "cmv": "pending"}},
                    status=200).json
    assert body["donor_status"] == "ineligible"
    refused = lab.post(f"/subjects/{donor['id']}/donor-eligibility",
                       {"password": TEST_PASSWORD, "meaning": "approval"}, headers=lab.qa,
                       status=409)
    reasons = refused.json["details"]["reasons"]
    assert "marker syphilis is reactive" in reasons and "marker cmv is still pending" in reasons


def test_only_qa_signs_and_a_wrong_password_is_401(app, lab):
    donor = lab.donor("incomplete")
    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": ago(days=1), "markers": NEGATIVE}, status=200)
    lab.post(f"/subjects/{donor['id']}/donor-eligibility",
             {"password": TEST_PASSWORD, "meaning": "approval"}, headers=lab.tech, status=403)
    lab.post(f"/subjects/{donor['id']}/donor-eligibility",
             {"password": "wrong-password", "meaning": "approval"}, headers=lab.qa, status=401,
             audited=KEPT_WRONG_PASSWORD)
    lab.post(f"/subjects/{donor['id']}/donor-eligibility",
             {"password": TEST_PASSWORD, "meaning": "review"}, headers=lab.qa, status=400)
    subject = lab.client.get(f"/api/v1/subjects/{donor['id']}", headers=lab.tech).json
    assert subject["donor_status"] == "incomplete"


@pytest.mark.parametrize(("body", "field"), [
    ({"specimen_collected_at": "2026-01-01T10:00:00", "markers": NEGATIVE},
     "specimen_collected_at"),
    ({"specimen_collected_at": ago(days=1), "markers": {**NEGATIVE, "hiv_1": "maybe"}},
     "markers"),
    ({"specimen_collected_at": ago(days=1), "markers": {k: v for k, v in NEGATIVE.items()
                                                        if k != "cmv"}}, "markers"),
    ({"markers": NEGATIVE}, "specimen_collected_at"),
    ({"specimen_collected_at": iso(now() + timedelta(hours=1)), "markers": NEGATIVE},
     "specimen_collected_at"),
])
def test_bad_donor_screening_is_400(app, lab, body, field):
    donor = lab.donor(None)
    response = lab.post(f"/subjects/{donor['id']}/donor-screening", body, status=400)
    assert field in response.json["details"]["fields"]
    assert count_rows(app, DonorScreening) == 0


def test_1271_90_c_a_patients_markers_are_autologous_testing_not_donor_screening(app, lab):
    """SPEC §2: autologous infectious-disease testing is optional and uses the same markers
    (this was a 409 before). No donor status, no eligibility; the audit keeps the row."""
    patient = lab.patient()
    subject = lab.post(f"/subjects/{patient['id']}/donor-screening",
                       {"specimen_collected_at": ago(days=1), "markers": NEGATIVE},
                       status=200).json
    assert subject["donor_status"] is None and subject["autologous_testing"] == "negative"
    assert subject["donor_screening"]["purpose"] == "autologous_testing"
    assert count_rows(app, DonorScreening) == 1


# -- specimen window (SPEC §2) -------------------------------------------------------------


def test_collection_refused_when_the_specimen_is_outside_the_window(app, lab):
    donor = lab.donor("eligible", specimen_at=now() - timedelta(days=10))
    refused = lab.post("/collections", {"subject_id": donor["id"], "source": "adipose",
                                        "collected_at": ago(hours=1), "volume_ml": 100.0},
                       status=409)
    assert "outside the window" in refused.json["details"]["reasons"][0]
    # bone marrow and apheresis allow a specimen up to 30 days before (1271.80(b))
    lab.collection(donor, "bone_marrow")
    lab.collection(donor, "apheresis")


def test_collection_allowed_with_an_in_window_specimen(lab):
    donor = lab.donor("eligible", specimen_at=now() - timedelta(days=6))
    assert lab.collection(donor, "cord_blood")["din"]


def test_specimen_taken_after_the_collection_must_fall_in_its_window(lab):
    donor = lab.donor(None)
    lab.collection(donor, "adipose", collected_at=ago(days=3))
    refused = lab.post(f"/subjects/{donor['id']}/donor-screening",
                       {"specimen_collected_at": ago(days=12), "markers": NEGATIVE}, status=409)
    assert "outside the window" in refused.json["details"]["reasons"][0]
    allowed = lab.post(f"/subjects/{donor['id']}/donor-screening",
                       {"specimen_collected_at": ago(days=1), "markers": NEGATIVE}, status=200)
    assert allowed.json["donor_status"] == "incomplete"


@pytest.mark.parametrize(("source", "days_before"), [
    ("bone_marrow", 30), ("apheresis", 30), ("adipose", 7), ("umbilical_cord", 7),
    ("cord_blood", 7)])
def test_specimen_window_by_source_21_cfr_1271_80_b(source, days_before):
    """21 CFR 1271.80(b): within 7 days before or after the recovery; up to 30 days
    before for bone marrow and peripheral blood stem cells (apheresis)."""
    from batches.screening import specimen_window

    collected = now()
    start, end = specimen_window(source, collected)
    assert (collected - start, end - collected) == (timedelta(days=days_before),
                                                     timedelta(days=7))
