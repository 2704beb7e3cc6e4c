"""SPEC §3b recall through the pages: QA starts it with a reason and a signature (from the
batch or review page), accounts for each dose by scanning its label, records the sites'
and physicians' notifications and acknowledgements, and closes it with a signature once
nothing is missing. Every form: allowed, refused (status and nothing written), roles."""

from __future__ import annotations

import pytest

from qc.models import Recall, RecallNotification
from tests.fixtures.records import KEPT_REFUSED_SCAN, KEPT_WRONG_PASSWORD
from tests.fixtures.release import count
from tests.fixtures.users import TEST_PASSWORD
from tests.release.web import element, post_form, text

FACILITY = "Demo Cell Therapy Facility"


def _out(rlab):
    """A released NK batch: dose A given at Ward 5, dose B stored at Ward 5, dose C still
    at the facility."""
    batch = rlab.harvested("NK")
    rlab.post(f"/batches/{batch['id']}/doses",
              {"count": 3, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
    rlab.all_results(batch, "NK")
    rlab.release(batch)
    a, b, c = (rlab.dose(d) for d in rlab.doses(batch))
    for dose in (a, b):
        rlab.custody(dose, "retrieved")
        rlab.custody(dose, "shipped", location="Courier")
        rlab.custody(dose, "received", location="Ward 5", to_person="Nurse Ward")
    rlab.administer(a, location="Ward 5")
    rlab.custody(b, "stored", location="Ward 5", to_person="Nurse Ward")
    return rlab.get(f"/batches/{batch['id']}"), a, b, c


def _start(client, batch, **fields):
    path = f"/qc/batches/{batch['id']}/recall/new"
    return post_form(client, path, {"reason": "donor look-back: HCV NAT reactive",
                                    "password": TEST_PASSWORD, "meaning": "approval",
                                    **fields}, page=path)


def _recalled(rlab, client, login_as):
    batch, a, b, c = _out(rlab)
    login_as("qa")
    assert _start(client, batch).status_code == 302
    return batch, a, b, c


def test_qa_starts_a_recall_from_the_batch_page_with_reason_and_signature(
        app, client, login_as, rlab, nothing_written):
    batch, a, b, _c = _out(rlab)
    login_as("technician")
    assert 'id="recall-start-link"' not in client.get(f"/batches/{batch['id']}").get_data(
        as_text=True)
    form = client.get(f"/qc/batches/{batch['id']}/recall/new")
    assert form.status_code == 200 and "Only QA recalls a batch" in text(form)
    with nothing_written():
        assert _start(client, batch).status_code == 403

    login_as("qa")
    batch_page = client.get(f"/batches/{batch['id']}").get_data(as_text=True)
    assert 'id="recall-start-link"' in batch_page
    review = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    assert 'id="review-recall-link"' in review
    form = client.get(f"/qc/batches/{batch['id']}/recall/new")
    shown = text(form)
    assert "What the recall will find" in shown and "Nurse Ward" in shown and "Ward 5" in shown
    assert "Electronic signature" in shown and "autofocus" in element(form, "recall-reason")
    with nothing_written(audited=KEPT_WRONG_PASSWORD):
        wrong = _start(client, batch, password="not-my-password")
    assert wrong.status_code == 401
    with nothing_written():
        no_reason = _start(client, batch, reason="")
    assert no_reason.status_code == 400 and "reason" in text(no_reason)
    assert count(app, Recall) == 0

    done = _start(client, batch)
    assert done.status_code == 302 and done.headers["Location"].endswith(
        f"/qc/batches/{batch['id']}/recall")
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "recalled"
    record = text(client.get(done.headers["Location"]))
    assert "donor look-back: HCV NAT reactive" in record and "approval" in record
    assert f"dose {b['code']} has no disposition (last at Ward 5, held by Nurse Ward)" in record
    assert "site Ward 5 is not notified" in record

    # The bench pages show the recall plainly.
    batch_page = text(client.get(f"/batches/{batch['id']}"))
    assert "BATCH RECALLED — DO NOT ADMINISTER" in batch_page
    assert "donor look-back: HCV NAT reactive" in batch_page
    dose_page = text(client.get(f"/doses/{b['id']}"))
    assert "BATCH RECALLED" in dose_page and "not yet accounted for" in dose_page
    assert "administered before the recall" in text(client.get(f"/doses/{a['id']}"))
    with nothing_written():
        assert _start(client, batch).status_code == 409  # once only


def test_the_recall_signature_asks_for_the_user_id_at_a_sessions_first_signing(
        app, client, login_as, rlab, nothing_written):
    batch, *_ = _out(rlab)
    app.config["SIGNATURE_USERNAME_AT_FIRST_SIGNING"] = True  # restored after the test
    name = login_as("qa")
    form = client.get(f"/qc/batches/{batch['id']}/recall/new")
    assert 'name="username"' in form.get_data(as_text=True)
    with nothing_written():
        assert _start(client, batch, username="").status_code == 400
    assert _start(client, batch, username=name).status_code == 302


def test_each_dose_is_accounted_for_by_scanning_its_label(app, client, login_as, rlab,
                                                          nothing_written):
    batch, a, b, c = _recalled(rlab, client, login_as)
    other_batch, other_doses = rlab.released("NK")
    other = rlab.dose(other_doses[0])
    login_as("technician")
    path = f"/qc/batches/{batch['id']}/recall/disposition"
    page = f"/qc/batches/{batch['id']}/recall"
    form = client.get(page)
    scan = element(form, "disp-scan")
    assert "autofocus" in scan and "data-scan-target" in scan

    with nothing_written():
        foreign = post_form(client, path, {"disposition": "disposed", "notes": "recalled",
                                           "scanned_code": other["barcodes"]["matrix"]})
    assert foreign.status_code == 400 and "not of this recall" in text(foreign)
    with nothing_written(audited=KEPT_REFUSED_SCAN):
        typed = post_form(client, path, {"disposition": "disposed", "notes": "recalled",
                                         "scanned_code": c["code"]})
    assert typed.status_code == 409 and "is not a dose label" in text(typed)
    assert 'value=""' in element(typed, "disp-scan"), "a refused scan is cleared"
    with nothing_written():
        no_reason = post_form(client, path, {"disposition": "disposed",
                                             "scanned_code": c["barcodes"]["matrix"]})
    assert no_reason.status_code == 400 and "say why the dose is disposed" in text(no_reason)
    with nothing_written():
        not_back = post_form(client, path, {"disposition": "returned",
                                            "scanned_code": c["barcodes"]["matrix"]})
    assert not_back.status_code == 409 and "record its return shipment" in text(not_back)
    with nothing_written():
        given = post_form(client, path, {"disposition": "disposed", "notes": "x",
                                         "scanned_code": a["barcodes"]["matrix"]})
    assert given.status_code == 409 and "administered before the recall" in text(given)

    done = post_form(client, path, {"disposition": "disposed", "notes": "recalled: destroyed",
                                    "scanned_code": c["barcodes"]["matrix"]})
    assert done.status_code == 302
    record = rlab.get(f"/batches/{batch['id']}/recall")
    entry = next(d for d in record["doses"] if d["id"] == c["id"])
    assert entry["disposition"] == "disposed" and rlab.dose(c)["status"] == "disposed"
    assert f'data-dose-id="{c["id"]}" class="accounted"' in client.get(page).get_data(
        as_text=True)

    # B comes back: its return shipment on the custody screen, then scanned as returned.
    rlab.custody(b, "retrieved", location="Ward 5")
    rlab.custody(b, "shipped", location=FACILITY)
    assert post_form(client, path, {"disposition": "returned", "to_person": "QA receiver",
                                    "scanned_code": b["barcodes"]["matrix"]}).status_code == 302
    received = rlab.get(f"/doses/{b['id']}/custody")[-1]
    assert (received["event"], received["to_person"]) == ("received", "QA receiver")

    login_as("admin")
    with nothing_written():
        assert post_form(client, path, {"disposition": "disposed", "notes": "x",
                                        "scanned_code": c["barcodes"]["matrix"]}
                         ).status_code == 403


def test_notifications_acknowledgements_and_closing(app, client, login_as, rlab,
                                                    nothing_written):
    batch, a, b, c = _recalled(rlab, client, login_as)
    rlab.post(f"/doses/{c['id']}/recall-disposition",
              {"disposition": "disposed", "scanned_code": c["barcodes"]["matrix"],
               "notes": "destroyed"})
    rlab.post(f"/doses/{b['id']}/recall-disposition",
              {"disposition": "disposed", "scanned_code": b["barcodes"]["matrix"],
               "notes": "destroyed on the ward", "location": "Ward 5"})
    page = f"/qc/batches/{batch['id']}/recall"
    close = f"/qc/batches/{batch['id']}/recall/close"
    notify = f"/qc/batches/{batch['id']}/recall/notifications"
    signing = {"password": TEST_PASSWORD, "meaning": "approval", "form_id": "close"}

    with nothing_written():
        refused = post_form(client, close, {**signing, "summary": "done"})
    assert refused.status_code == 409
    shown = text(refused)
    assert "The recall cannot be closed" in shown and "physician is not notified" in shown
    assert "site Ward 5 is not notified" in shown

    login_as("technician")
    with nothing_written():
        assert post_form(client, notify, {"kind": "site", "site": "Ward 5", "recipient": "x",
                                          "method": "phone"}).status_code == 403
    assert 'id="notification-form"' not in client.get(page).get_data(as_text=True)

    login_as("qa")
    with nothing_written():
        elsewhere = post_form(client, notify, {"kind": "site", "site": "Ward 9",
                                               "recipient": "Head nurse", "method": "phone"})
    assert elsewhere.status_code == 409 and "not a site of this recall" in text(elsewhere)
    with nothing_written():
        nameless = post_form(client, notify, {"kind": "site", "recipient": "Head nurse",
                                              "method": "phone", "form_id": "notification"})
    assert nameless.status_code == 400 and "a site notification names the site" in text(
        nameless)
    assert post_form(client, notify, {"kind": "site", "site": "Ward 5",
                                      "recipient": "Head nurse Ward 5",
                                      "method": "email"}).status_code == 302
    assert post_form(client, notify, {"kind": "physician", "dose_id": str(a["id"]),
                                      "recipient": "Dr. P. Treat",
                                      "method": "phone"}).status_code == 302
    [site] = [n for n in rlab.get(f"/batches/{batch['id']}/recall")["notifications"]
              if n["kind"] == "site"]
    ack = f"/qc/recall-notifications/{site['id']}/acknowledge"
    with nothing_written():
        assert post_form(client, ack, {"acknowledged_by": ""}).status_code == 400
    assert post_form(client, ack, {"acknowledged_by": "Charge nurse K."}).status_code == 302
    with nothing_written():
        again = post_form(client, ack, {"acknowledged_by": "someone"})
    assert again.status_code == 409 and "already acknowledged" in text(again)
    assert count(app, RecallNotification) == 2
    assert "every dose is accounted for" in text(client.get(page))

    with nothing_written(audited=KEPT_WRONG_PASSWORD):
        assert post_form(client, close, {**signing, "password": "wrong-password-1"}
                         ).status_code == 401
    assert post_form(client, close, {**signing, "summary": "all doses accounted for"}
                     ).status_code == 302
    record = rlab.get(f"/batches/{batch['id']}/recall")
    assert record["state"] == "closed" and record["closing_summary"] == "all doses accounted for"
    closed = client.get(page)
    assert "closed" in text(closed) and 'id="close-form"' not in closed.get_data(as_text=True)
    assert 'id="disposition-form"' not in closed.get_data(as_text=True)
    with nothing_written():
        assert post_form(client, notify, {"kind": "site", "site": "Ward 5", "recipient": "x",
                                          "method": "phone"}).status_code == 409


@pytest.mark.parametrize("role", ["technician", "admin"])
def test_only_qa_closes_a_recall(client, login_as, rlab, role, nothing_written):
    batch, *_ = _recalled(rlab, client, login_as)
    login_as(role)
    with nothing_written():
        assert post_form(client, f"/qc/batches/{batch['id']}/recall/close",
                         {"password": TEST_PASSWORD, "meaning": "approval"}).status_code == 403


def test_a_batch_never_recalled_has_no_recall_page(client, login_as, rlab):
    batch, _ = rlab.released("NK")
    login_as("qa")
    assert client.get(f"/qc/batches/{batch['id']}/recall").status_code == 404
