"""A patient's own infectious-disease testing (SPEC §2 autologous testing, §3b, §6;
21 CFR 1271.90(c)): recorded with the donor-screening endpoint (200, not 409), shown on the
batch and dose output with segregated storage flagged, never a donor rule — no eligibility,
no donor status, no look-back, no post-release failure — and never blocking the patient's
own batch; a change after release suspends the release like any screening of the subject."""

from __future__ import annotations

from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.records import assert_nothing_written
from tests.fixtures.users import TEST_PASSWORD
from tests.labels.test_labels_api import QUARANTINE, _label_text

REACTIVE = {**NEGATIVE, "hbsag": "reactive", "cmv": "reactive"}


def _test(lab, patient: dict, markers: dict, status: int = 200) -> dict:
    return lab.post(f"/subjects/{patient['id']}/donor-screening",
                    {"specimen_collected_at": iso(now()), "markers": markers},
                    status=status).json


def _kinds(rlab, batch: dict) -> set[str]:
    return {a["kind"] for a in rlab.alerts(batch)}


def test_1271_90_c_a_patients_markers_are_recorded_as_testing_not_eligibility(rlab):
    patient = rlab.patient()
    assert patient["autologous_testing"] == "untested"
    subject = _test(rlab, patient, NEGATIVE)  # was 409 "Donor screening is for donors"
    assert subject["donor_status"] is None and subject["autologous_testing"] == "negative"
    assert subject["donor_screening"]["purpose"] == "autologous_testing"
    assert subject["donor_screening"]["status"] == "incomplete"

    subject = _test(rlab, patient, REACTIVE)  # a new specimen: a history, not overwritten
    assert subject["donor_status"] is None and subject["autologous_testing"] == "reactive"
    screening = subject["donor_screening"]
    assert screening["reactive_markers"] == ["hbsag", "cmv"]
    assert screening["disqualifying_markers"] == [] == screening["labelled_reactive_markers"]
    assert len(rlab.get(f"/subjects/{patient['id']}/donor-screenings")) == 2

    # no eligibility for a patient: QA's signature is refused and writes nothing
    with assert_nothing_written(rlab.client.application):
        rlab.post(f"/subjects/{patient['id']}/donor-eligibility",
                  {"password": TEST_PASSWORD, "meaning": "approval"}, headers=rlab.qa,
                  status=409)


def test_1271_90_c_a_reactive_patient_is_shown_and_segregated_but_not_blocked(rlab):
    """Reactive before registration: the autologous batch registers, reaches QC and is
    released (the patient gets their own cells); batch and dose say "store segregated"."""
    patient = rlab.patient()
    _test(rlab, patient, REACTIVE)
    batch, doses = rlab.released("MSC", origin="autologous", recipient=patient)
    assert batch["status"] == "released" and batch["quarantined"] is False
    testing = batch["infectious_disease_testing"]
    assert testing["status"] == "reactive" and testing["reactive_markers"] == ["hbsag", "cmv"]
    assert batch["segregated_storage"] is True
    assert batch["segregated_storage_note"] == \
        "store segregated: reactive autologous product (hbsag, cmv)"
    dose = rlab.dose(doses[0])
    assert dose["segregated_storage"] is True and dose["blocked_reasons"] == []
    assert not _kinds(rlab, batch) & {"lookback", "post_release_failure"}

    _dose, text = _label_text(rlab, doses[0]["id"])
    assert "BIOHAZARD" in text and QUARANTINE not in text
    assert "WARNING: Reactive test results for HBV (HBsAg)" in text


def test_an_untested_or_negative_autologous_batch_is_not_segregated(lab):
    batch = lab.batch()
    assert batch["infectious_disease_testing"]["status"] == "untested"
    assert batch["segregated_storage"] is False and batch["segregated_storage_note"] is None
    allogeneic = lab.batch("NK", origin="allogeneic")
    assert allogeneic["infectious_disease_testing"] is None
    assert allogeneic["segregated_storage"] is False


def test_1271_90_c_testing_after_release_suspends_as_a_change_never_a_failure(rlab):
    """SPEC §3b: a recipient screening recorded suspends every released batch of that
    subject — a patient's own markers too; a reactive one is no donor failure (no
    post-release failure, no look-back) since the patient gets their own cells."""
    patient = rlab.patient()
    batch, _ = rlab.released("MSC", origin="autologous", recipient=patient)
    _test(rlab, patient, REACTIVE)
    after = rlab.get(f"/batches/{batch['id']}")
    assert after["status"] == "release_suspended" and after["segregated_storage"] is True
    assert _kinds(rlab, batch) == {"release_suspended"}
    [alert] = rlab.alerts(batch, "release_suspended")
    assert "infectious-disease testing" in alert["summary"], alert
    assert "reactive: hbsag, cmv" in alert["summary"], alert
