"""Labels and reports read the release from ``qc`` (SPEC §3, §6, §8): the urgent-medical-need
statement after an exceptional release, and a release signature shown as invalidated once
the signed record has changed."""

from __future__ import annotations

from labels.release_info import INVALIDATED
from labels.statements import URGENT_RELEASE_STATEMENT
from tests.fixtures.users import TEST_PASSWORD
from tests.labels.test_labels_api import QUARANTINE, _label_text
from tests.labels.test_report_and_fhir import _text


def _doses(qlab, batch):
    return qlab.client.get(f"/api/v1/batches/{batch['id']}/doses", headers=qlab.tech).json


def test_exceptional_release_puts_the_urgent_statement_on_the_label(qlab, api_headers):
    donor = qlab.donor("incomplete")
    batch = qlab.in_review(origin="allogeneic", donor=donor)
    qlab.all_results(batch, skip=("sterility",))
    request = {"password": TEST_PASSWORD, "physician_name": "Dr. A. Urgent",
               "physician_request": "No alternative therapy."}
    qlab.post(f"/batches/{batch['id']}/exceptional-release", request, headers=qlab.signer,
              status=201)
    dose = _doses(qlab, batch)[0]
    _dose, before = _label_text(qlab, dose["id"])
    assert QUARANTINE in before and URGENT_RELEASE_STATEMENT not in before
    qlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
              {"password": TEST_PASSWORD}, headers=api_headers("qa"), status=200)
    _dose, after = _label_text(qlab, dose["id"])
    assert URGENT_RELEASE_STATEMENT in after and QUARANTINE not in after


def test_custody_report_shows_the_release_signature_and_its_invalidation(qlab):
    batch = qlab.ready()
    qlab.release(batch)
    dose = _doses(qlab, batch)[0]
    report = qlab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf",
                             headers=qlab.tech)
    text = " ".join(_text(report.data))
    assert "approval" in text and INVALIDATED not in text
    results = qlab.client.get(f"/api/v1/batches/{batch['id']}/qc-results",
                              headers=qlab.tech).json
    viability = next(r for r in results if r["test"] == "viability")
    qlab.post(f"/qc-results/{viability['id']}/correct",
              {"value": 90.0, "unit": "%", "reason": "transcription error"}, status=200)
    report = qlab.client.get(f"/api/v1/doses/{dose['id']}/custody-report.pdf",
                             headers=qlab.tech)
    assert INVALIDATED in " ".join(_text(report.data))
