"""SPEC §3b on the bench pages: a suspended release seen plainly on the batch and dose pages
and in the release queue; the bedside says DO NOT ADMINISTER with every reason as soon as
the dose label is scanned, and again at the identity confirmation; labels still print."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

import pytest

from batches.models import CustodyEvent
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH
from tests.fixtures.release import count
from tests.release.web import element, post_form, text


@pytest.fixture
def suspended(rlab):
    """A released NK batch whose viability result was corrected after release."""
    batch, doses = rlab.released("NK")
    rlab.correct(rlab.results(batch)["viability"], value=85.0, unit="%",
                 reason="transcription error")
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    return batch, [rlab.dose(d) for d in doses]


def test_the_batch_page_shows_the_suspension_its_causes_and_who(client, login_as, suspended):
    batch, _doses = suspended
    login_as("technician")
    page = client.get(f"/batches/{batch['id']}")
    shown = text(page)
    assert page.status_code == 200
    assert "RELEASE SUSPENDED — DO NOT SHIP OR ADMINISTER" in shown
    assert "Result corrected" in shown and "viability corrected to 85" in shown
    assert 'role="alert" id="suspension-banner"' in page.get_data(as_text=True)
    assert "re-release it" in shown and "recall it" in shown
    assert "recall-link" not in page.get_data(as_text=True), "only QA gets the recall link"
    assert "Release suspensions" in shown  # the history card

    login_as("qa")
    page = client.get(f"/batches/{batch['id']}").get_data(as_text=True)
    assert 'id="recall-link"' in page and 'id="re-release-link"' in page
    assert f"/qc/batches/{batch['id']}/recall/new" in page


def test_the_dose_page_shows_why_it_may_not_be_given_its_use_by_and_thaw_state(
        client, login_as, suspended):
    _batch, [dose, _other] = suspended
    login_as("technician")
    page = client.get(f"/doses/{dose['id']}")
    shown = text(page)
    assert "RELEASE SUSPENDED" in shown and "NOT TO BE SHIPPED OR ADMINISTERED NOW" in shown
    assert "release suspended, not released" in shown
    assert "Use by" in shown and "fresh product: never thawed" in shown
    assert "Quarantine label" in shown  # the labels section still there
    pdf = client.get(f"/doses/{dose['id']}/label.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_release_queue_lists_suspended_batches_as_such(client, login_as, suspended, rlab):
    batch, _ = suspended
    in_review = rlab.in_review("NK")
    login_as("qa")
    page = client.get("/qc/release-queue")
    html = page.get_data(as_text=True)
    assert f'data-batch-id="{batch["id"]}" data-status="release_suspended"' in html
    assert f'data-batch-id="{in_review["id"]}" data-status="qc_review"' in html
    assert "RELEASE SUSPENDED" in text(page) and "viability corrected" in text(page)
    panel = text(client.get("/"))
    assert "release suspended" in panel


def test_the_bedside_refuses_a_suspended_dose_at_the_scan(client, login_as, suspended, rlab,
                                                          app, nothing_written):
    _batch, [dose, _] = suspended
    rlab.custody(dose, "retrieved")
    login_as("technician")
    with nothing_written():
        page = client.get("/bedside?scanned_code=" + quote(dose["barcodes"]["matrix"]))
    assert page.status_code == 409
    shown = text(page)
    assert "DO NOT ADMINISTER" in shown and "release suspended, not released" in shown
    assert "viability corrected" in shown, "the cause is named"
    scan = element(page, "scanned_code")
    assert "autofocus" in scan and 'value=""' in scan, "the scan field is cleared and focused"
    assert 'id="patient_code"' not in page.get_data(as_text=True)

    # At the identity confirmation too: refused, recorded as a mismatch, nothing given.
    batch = rlab.get(f"/batches/{dose['batch_id']}")
    patient = rlab.get(f"/subjects/{batch['recipient_id']}")
    before = count(app, CustodyEvent)
    with nothing_written(audited=KEPT_IDENTITY_MISMATCH):
        refused = post_form(client, "/bedside", {
            "scanned_code": dose["barcodes"]["matrix"], "patient_code": patient["code"],
            "patient_date_of_birth": patient["date_of_birth"]}, page="/bedside")
    assert refused.status_code == 409
    shown = text(refused)
    assert "DO NOT ADMINISTER" in shown and "release suspended" in shown
    assert "autofocus" in element(refused, "scanned_code")
    assert count(app, CustodyEvent) == before
    assert rlab.dose(dose)["status"] == "quarantined"


def test_the_bedside_scan_accepts_a_dose_that_may_be_given_then_asks_for_the_patient(
        client, login_as, rlab, nothing_written):
    batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    login_as("technician")
    path = "/bedside?scanned_code=" + quote(dose["barcodes"]["matrix"])
    with nothing_written():
        frozen = client.get(path)
    assert frozen.status_code == 409
    assert "thawed before it is administered" in text(frozen)

    rlab.custody(dose, "thawed", location="Ward 5", temperature_c=37.0)
    accepted = client.get(path)
    assert accepted.status_code == 200
    assert "label accepted" in text(accepted)
    assert "autofocus" in element(accepted, "patient_code")
    html = accepted.get_data(as_text=True)
    assert f'name="scanned_code" value="{escape(dose["barcodes"]["matrix"])}"' in html
    recipient = rlab.get(f"/subjects/{batch['recipient_id']}")
    assert recipient["code"] not in text(accepted), "the patient is identified, not shown"

    with nothing_written():
        not_a_dose = client.get("/bedside?scanned_code=" + quote(dose["barcodes"]["din"]))
    assert not_a_dose.status_code == 400 and "not a dose label" in text(not_a_dose)
    with nothing_written():
        typed = client.get("/bedside?scanned_code=" + quote(dose["code"]))
    assert typed.status_code == 409 and "is not a dose label" in text(typed)

    done = post_form(client, "/bedside", {
        "scanned_code": dose["barcodes"]["matrix"], "patient_code": recipient["code"],
        "patient_date_of_birth": recipient["date_of_birth"], "location": "Ward 5"},
        page="/bedside")
    assert done.status_code == 302
    assert rlab.dose(dose)["status"] == "administered"


def test_a_missing_birth_date_keeps_the_accepted_dose_and_asks_again(client, login_as, rlab,
                                                                     nothing_written):
    _batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    login_as("technician")
    with nothing_written():
        page = post_form(client, "/bedside", {"scanned_code": dose["barcodes"]["matrix"],
                                              "patient_code": "PT-X"}, page="/bedside")
    assert page.status_code == 400
    assert "label accepted" in text(page) and "patient date of birth: Missing" in text(page)


def test_the_bedside_says_why_after_the_post_thaw_expiry(client, login_as, rlab, clock):
    _batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.custody(dose, "thawed", location="Ward 5")
    clock.advance(hours=5)
    login_as("technician")
    page = client.get("/bedside?scanned_code=" + quote(dose["barcodes"]["matrix"]))
    assert page.status_code == 409
    assert "(post-thaw expiry)" in text(page)
    dose_page = text(client.get(f"/doses/{dose['id']}"))
    assert "post-thaw expiry" in dose_page and "expired" in dose_page
