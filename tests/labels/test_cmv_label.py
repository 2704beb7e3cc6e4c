"""21 CFR 1271.85(b)(2), SPEC §2 and §6: a CMV-reactive donor may be signed eligible, its
batch is released normally, and its dose labels — PDF and ZPL — carry "CMV: reactive".
Read back as the other label tests do: the PDF rendered, its bar codes decoded and its text
extracted; the ZPL's text fields (its bar codes are decoded in test_labels_api, with an ASCII
storage text that zplkit's offline font can draw)."""

from __future__ import annotations

from labels.statements import (
    ADVISE_PATIENT_STATEMENT,
    BIOHAZARD_LEGEND,
    NOT_EVALUATED_STATEMENT,
)
from tests.batches.dose_helpers import dose_json, formulated
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.labels.test_labels_api import QUARANTINE, _get, _label_text

CMV = "CMV: reactive"


def _zpl(lab, dose: dict) -> bytes:
    zpl = _get(lab, f"/doses/{dose['id']}/label.zpl").data  # 200: the text fits the stock
    assert zpl.startswith(b"^XA") and dose["barcodes"]["matrix"].encode() in zpl
    return zpl


def test_1271_85_b_2_released_allogeneic_dose_of_a_cmv_reactive_donor_says_so(app, qlab):
    """21 CFR 1271.85(b)(2): CMV reactive, others negative → signed eligible, batch released
    through QA's release (200), final label with "CMV: reactive" and no ineligible-donor or
    not-evaluated statement, on the PDF and the ZPL label."""
    donor = qlab.donor("eligible", markers={"cmv": "reactive"})
    assert donor["donor_status"] == "eligible"
    batch = qlab.ready("NK", origin="allogeneic", donor=donor)
    released = qlab.release(batch).json
    assert released["status"] == "released"
    [dose, _] = qlab.client.get(f"/api/v1/batches/{batch['id']}/doses",
                                headers=qlab.tech).json

    dose, text = _label_text(qlab, dose["id"])
    assert CMV in text
    for absent in (QUARANTINE, BIOHAZARD_LEGEND, NOT_EVALUATED_STATEMENT,
                   ADVISE_PATIENT_STATEMENT, "Reactive test results"):
        assert absent not in text, absent

    zpl = _zpl(qlab, dose)
    assert CMV.encode() in zpl
    assert b"QUARANTINE" not in zpl and b"BIOHAZARD" not in zpl


def test_an_all_negative_donors_label_has_no_cmv_statement(lab):
    _batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=lab.donor("eligible"),
                                count=1)
    _dose, text = _label_text(lab, dose["id"])
    assert CMV not in text and "reactive" not in text


def test_1271_85_b_2_cmv_reactive_with_other_markers_pending_is_labelled_too(lab):
    """The CMV result is printed whatever the donor's status: here screening incomplete
    (quarantined, not evaluated) — the reactive CMV is known and said."""
    donor = lab.donor("incomplete", markers={"hiv_1": "pending", "cmv": "reactive"})
    _batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=donor, count=1)
    dose, text = _label_text(lab, dose["id"])
    for expected in (QUARANTINE, NOT_EVALUATED_STATEMENT, ADVISE_PATIENT_STATEMENT, CMV):
        assert expected in text, expected
    assert CMV.encode() in _zpl(lab, dose)


def test_1271_85_b_2_an_ineligible_donor_gets_the_warning_for_hcv_and_cmv_as_recorded(lab):
    """HCV reactive disqualifies (biohazard, warning naming HCV); CMV is still "CMV: reactive",
    not a disqualifying warning. The label still fits on the stock as PDF and ZPL."""
    donor = lab.donor("eligible")
    _batch, [dose] = formulated(lab, "NK", origin="allogeneic", donor=donor, count=1)
    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": iso(now()),
              "markers": {**NEGATIVE, "hcv_antibody": "reactive", "cmv": "reactive"}},
             status=200)
    dose, text = _label_text(lab, dose["id"])
    for expected in (QUARANTINE, BIOHAZARD_LEGEND, ADVISE_PATIENT_STATEMENT,
                     "WARNING: Reactive test results for HCV (antibody)", CMV):
        assert expected in text, expected
    assert "Reactive test results for CMV" not in text
    zpl = _zpl(lab, dose_json(lab, dose["id"]))
    assert CMV.encode() in zpl and b"Reactive test results for HCV (antibody)" in zpl
