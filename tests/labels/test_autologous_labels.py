"""21 CFR 1271.90(c), SPEC §2 and §6: an autologous dose label from the patient's own
infectious-disease testing, read back from the PDF (text and decoded bar codes) and the ZPL.
Not tested: "NOT EVALUATED FOR INFECTIOUS SUBSTANCES", no "Advise patient"; all negative:
"FOR AUTOLOGOUS USE ONLY" only; reactive: the biohazard legend and a reactive warning per
agent, CMV included."""

from __future__ import annotations

from labels.statements import (
    ADVISE_PATIENT_STATEMENT,
    AUTOLOGOUS_STATEMENT,
    BIOHAZARD_LEGEND,
    NOT_EVALUATED_STATEMENT,
)
from tests.batches.dose_helpers import dose_json, formulated
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.labels.test_cmv_label import _zpl
from tests.labels.test_labels_api import _label_text

HBSAG = "WARNING: Reactive test results for HBV (HBsAg)"
CMV = "WARNING: Reactive test results for CMV"


def _tested(lab, markers: dict) -> dict:
    patient = lab.patient()
    lab.post(f"/subjects/{patient['id']}/donor-screening",
             {"specimen_collected_at": iso(now()), "markers": markers}, status=200)
    return patient


def test_1271_90_c_reactive_autologous_dose_label_has_biohazard_and_reactive_warnings(lab):
    patient = _tested(lab, {**NEGATIVE, "hbsag": "reactive", "cmv": "reactive"})
    _batch, [dose] = formulated(lab, recipient=patient, count=1)
    dose, text = _label_text(lab, dose["id"])
    for expected in (AUTOLOGOUS_STATEMENT, BIOHAZARD_LEGEND, HBSAG, CMV):
        assert expected in text, expected
    for absent in (ADVISE_PATIENT_STATEMENT, NOT_EVALUATED_STATEMENT, "CMV: reactive"):
        assert absent not in text, absent
    zpl = _zpl(lab, dose_json(lab, dose["id"]))
    for expected in (AUTOLOGOUS_STATEMENT, BIOHAZARD_LEGEND, HBSAG, CMV):
        assert expected.encode() in zpl, expected
    assert b"Advise patient" not in zpl


def test_1271_90_c_negative_autologous_dose_label_is_for_autologous_use_only(lab):
    patient = _tested(lab, NEGATIVE)
    _batch, [dose] = formulated(lab, recipient=patient, count=1)
    _dose, text = _label_text(lab, dose["id"])
    assert AUTOLOGOUS_STATEMENT in text
    for absent in (NOT_EVALUATED_STATEMENT, ADVISE_PATIENT_STATEMENT, BIOHAZARD_LEGEND,
                   "Reactive test results"):
        assert absent not in text, absent


def test_1271_90_c_untested_autologous_zpl_label_has_no_advise_patient_line(lab):
    _batch, [dose] = formulated(lab, count=1)
    zpl = _zpl(lab, dose_json(lab, dose["id"]))
    assert AUTOLOGOUS_STATEMENT.encode() in zpl and NOT_EVALUATED_STATEMENT.encode() in zpl
    assert b"Advise patient" not in zpl and BIOHAZARD_LEGEND.encode() not in zpl
