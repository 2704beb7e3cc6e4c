"""The batch record and the certificate of analysis, read back as text (SPEC §3, §8)."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from batches import isbt128
from tests.fixtures.qc import PASSING, RELEASE_TESTS


def _pages(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [" ".join(page.get_textpage().get_text_range().split()) for page in pdf]


def _get(lab, path: str, headers=None, status: int = 200):
    response = lab.client.get(f"/api/v1{path}", headers=headers or lab.tech)
    assert response.status_code == status, response.get_json(silent=True)
    return response


def _steps(lab, batch) -> list[dict]:
    return _get(lab, f"/batches/{batch['id']}/steps").json


def _username(lab, headers) -> str:
    return lab.client.get("/api/v1/me", headers=headers).json["username"]


@pytest.fixture
def released(app, qlab):
    """An MSC batch: a step corrected with a reason, a result corrected and re-reviewed,
    every release result reviewed, released by the signer."""
    batch = qlab.in_review()
    harvest = next(s for s in _steps(qlab, batch) if s["type"] == "harvest")
    qlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=qlab.tech,
                      json={"viability_pct": 93.5, "reason": "transcription error on the sheet"})
    results = {}
    for test in RELEASE_TESTS["MSC"]:
        results[test] = qlab.result(batch, test)
    qlab.post(f"/qc-results/{results['viability']['id']}/correct",
              {"value": 90.5, "unit": "%", "reason": "recount after clumping"},
              headers=qlab.qa, status=200)
    for result in results.values():
        qlab.review(result)
    qlab.release(batch)
    return batch, harvest, results


def test_batch_record_shows_steps_corrections_results_and_signature(app, qlab, released):
    batch, harvest, _results = released
    response = _get(qlab, f"/batches/{batch['id']}/batch-record.pdf")
    assert response.mimetype == "application/pdf"
    pages = _pages(response.data)
    text = " ".join(pages)
    din = isbt128.format_din(batch["din"])
    for number, page in enumerate(pages, 1):  # header and numbering on every page
        assert batch["batch_number"] in page and din in page, number
        assert f"Page {number} of {len(pages)}" in page
    assert len(pages) >= 2
    assert "Generated" in text and "UTC" in text
    # steps with who performed them and the late-entry flag
    assert "seeding" in text and "harvest" in text and "LATE ENTRY" in text
    assert "93.5 % viable" in text
    tech = _username(qlab, qlab.tech)
    assert tech in text
    # corrections with old → new, reason, who
    assert "viability_pct: 92.0 → 93.5" in text
    assert "transcription error on the sheet" in text
    assert "value: 91.0 → 90.5" in text and "recount after clumping" in text
    # every QC result with its evaluation, analyst and reviewer
    for test in RELEASE_TESTS["MSC"]:
        assert test in text, test
    assert "90.5 %" in text and "PASS" in text
    assert _username(qlab, qlab.reviewer) in text
    # the release signature's manifestation, still valid
    signer = _username(qlab, qlab.signer)
    assert f"({signer}) — approval —" in text and "UTC" in text
    assert "valid" in text and "INVALIDATED" not in text
    assert "NOT RELEASED" not in text
    # doses and custody summary
    for dose in _get(qlab, f"/batches/{batch['id']}/doses").json:
        assert dose["code"] in text
    assert "Chain unbroken" in text


def test_batch_record_shows_invalidated_after_post_release_correction(app, qlab, released):
    batch, harvest, _results = released
    qlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=qlab.tech,
                      json={"cell_count": 99_000_000, "reason": "counter recalibrated"})
    text = " ".join(_pages(_get(qlab, f"/batches/{batch['id']}/batch-record.pdf").data))
    assert "INVALIDATED: record changed after signing" in text
    assert "counter recalibrated" in text
    assert "cell_count: 100000000 → 99000000" in text
    coa = " ".join(_pages(_get(qlab, f"/batches/{batch['id']}/coa.pdf").data))
    assert "INVALIDATED: record changed after signing" in coa


def test_batch_record_before_release_says_not_released_and_lists_deviations(app, qlab):
    batch = qlab.in_review()
    failing = qlab.result(batch, "viability", value=50.0, unit="%")
    assert failing["evaluation"] == "fail"
    text = " ".join(_pages(_get(qlab, f"/batches/{batch['id']}/batch-record.pdf").data))
    assert "NOT RELEASED" in text and "DEV-" in text and "OPEN" in text
    assert "out of spec" in text and "FAIL" in text and "NOT REVIEWED" in text
    assert "No signatures yet." in text


def test_coa_has_a_row_per_release_test_with_spec_result_and_people(app, qlab, released):
    batch, _harvest, results = released
    response = _get(qlab, f"/batches/{batch['id']}/coa.pdf", headers=qlab.qa)
    assert response.mimetype == "application/pdf"
    pages = _pages(response.data)
    text = " ".join(pages)
    spec = _get(qlab, f"/batches/{batch['id']}/qc-specification").json
    assert f"v{spec['version']}" in text
    assert isbt128.format_din(batch["din"]) in text and batch["batch_number"] in text
    assert "Mesenchymal" in text or "MSC" in text
    for test in RELEASE_TESTS["MSC"]:
        assert f"({test})" in text, test
    assert ">= 70 %" in text or "≥" in text or ">= 70" in text
    assert "90.5 % (corrected)" in text and "0.1 EU/mL" in text and "negative" in text
    assert text.count("PASS") >= len(RELEASE_TESTS["MSC"])
    assert _username(qlab, qlab.tech) in text and _username(qlab, qlab.reviewer) in text
    assert "RELEASED" in text and "NOT RELEASED" not in text
    assert f"({_username(qlab, qlab.signer)}) — approval —" in text
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert PASSING["endotoxin"]["unit"] in text


def test_coa_says_not_released_before_release(app, qlab):
    batch = qlab.ready()
    text = " ".join(_pages(_get(qlab, f"/batches/{batch['id']}/coa.pdf").data))
    assert "NOT RELEASED" in text and "No release signature." in text


def test_documents_are_audited_and_refused_to_other_roles(app, qlab, admin, nothing_written):
    from tests.fixtures.records import audit_entries

    batch = qlab.in_review()
    with nothing_written():
        _get(qlab, f"/batches/{batch['id']}/batch-record.pdf", headers=admin, status=403)
        _get(qlab, f"/batches/{batch['id']}/coa.pdf", headers=admin, status=403)
    _get(qlab, f"/batches/{batch['id']}/coa.pdf", headers=qlab.tech)
    with nothing_written():
        _get(qlab, "/batches/999999/coa.pdf", status=404)
    documents = [e["changes"]["document"][1] for e in audit_entries(app, "batch", batch["id"])
                 if e["action"] == "label_document"]
    assert documents == ["certificate of analysis"]
    assert qlab.client.get(f"/api/v1/batches/{batch['id']}/coa.pdf").status_code == 401


def test_review_and_batch_pages_link_the_documents(app, qlab, client, login_as):
    batch = qlab.in_review()
    login_as("qa")
    for path in (f"/qc/batches/{batch['id']}/review", f"/batches/{batch['id']}"):
        page = client.get(path).get_data(as_text=True)
        assert f"/batches/{batch['id']}/batch-record.pdf" in page, path
        assert f"/batches/{batch['id']}/coa.pdf" in page
        assert f"/batches/{batch['id']}/audit-bundle.json" in page
    response = client.get(f"/batches/{batch['id']}/batch-record.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert client.get(f"/batches/{batch['id']}/audit-bundle.json").status_code == 200
