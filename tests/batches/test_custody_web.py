"""Bench pages for custody (scan → one-screen form → re-scan to confirm) and the bedside
check, with role checks and CSRF (SPEC §5, §7)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from batches.models import CustodyEvent
from lims.alerts.models import Alert
from tests.batches.dose_helpers import custody, dose_json, formulated, release
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH, KEPT_REFUSED_SCAN, count_rows
from tests.fixtures.users import csrf_token


@pytest.fixture
def tech_web(client, login_as):
    login_as("technician")
    return client


def test_scan_a_dose_then_confirm_the_handoff_by_rescanning(app, tech_web, lab,
                                                             nothing_written):
    _batch, [dose, other] = formulated(lab)
    dose = dose_json(lab, dose["id"])
    page = tech_web.get("/custody?code=" + quote(dose["barcodes"]["matrix"]))
    assert page.status_code == 302 and page.headers["Location"].endswith(
        f"/doses/{dose['id']}/custody")
    form = tech_web.get(f"/doses/{dose['id']}/custody")
    assert b"Re-scan the dose label" in form.data and b"data-scan-box" in form.data
    token = csrf_token(tech_web, f"/doses/{dose['id']}/custody")
    with nothing_written(audited=KEPT_REFUSED_SCAN):
        wrong = tech_web.post(f"/doses/{dose['id']}/custody", data={
            "csrf_token": token, "event": "retrieved", "location": "Bench 2",
            "scanned_code": other["barcodes"]["matrix"]})
    assert wrong.status_code == 409 and b"not dose" in wrong.data
    done = tech_web.post(f"/doses/{dose['id']}/custody", data={
        "csrf_token": token, "event": "retrieved", "location": "Bench 2",
        "temperature_c": "-185", "scanned_code": dose["barcodes"]["matrix"]})
    assert done.status_code == 302
    assert count_rows(app, CustodyEvent) == 1 + 2 + 1
    assert tech_web.get("/custody?code=" + quote(dose["barcodes"]["din"])).status_code == 404


def test_custody_form_needs_csrf_and_a_writer_role(app, client, login_as, lab,
                                                   nothing_written):
    _batch, [dose, _] = formulated(lab)
    login_as("admin")
    token = csrf_token(client, f"/doses/{dose['id']}/custody")
    body = {"event": "retrieved", "location": "x", "scanned_code": dose["barcodes"]["matrix"]}
    with nothing_written():
        assert client.post(f"/doses/{dose['id']}/custody", data=body).status_code == 400
        assert client.post(f"/doses/{dose['id']}/custody",
                           data={**body, "csrf_token": token}).status_code == 403


def test_bedside_mismatch_is_shown_and_a_match_is_recorded(app, tech_web, lab,
                                                           nothing_written):
    batch, [dose, _] = formulated(lab)
    release(app, batch["id"])
    dose = dose_json(lab, dose["id"])
    for event in ("retrieved", "shipped", "received", "thawed"):  # MSC is cryopreserved
        custody(lab, dose, event)
    patient = lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}", headers=lab.tech).json
    token = csrf_token(tech_web, "/bedside")
    with nothing_written(audited=KEPT_IDENTITY_MISMATCH):
        wrong = tech_web.post("/bedside", data={
            "csrf_token": token, "scanned_code": dose["barcodes"]["matrix"],
            "patient_code": patient["code"], "patient_date_of_birth": "1999-09-09"})
    assert wrong.status_code == 409
    assert b"IDENTITY MISMATCH" in wrong.data and b"not the intended recipient" in wrong.data
    assert count_rows(app, Alert) == 1
    right = tech_web.post("/bedside", data={
        "csrf_token": token, "scanned_code": dose["barcodes"]["matrix"],
        "patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
        "location": "Ward 5"})
    assert right.status_code == 302
    assert dose_json(lab, dose["id"])["status"] == "administered"
    with nothing_written():
        not_a_dose = tech_web.post("/bedside", data={
            "csrf_token": token, "scanned_code": dose["barcodes"]["din"],
            "patient_code": patient["code"],
            "patient_date_of_birth": patient["date_of_birth"]})
    assert not_a_dose.status_code == 400


def test_the_pre_filled_time_left_as_is_means_now_not_the_start_of_the_minute(app, tech_web,
                                                                             lab):
    """The form shows the current minute; a handoff in the same minute as formulation's
    ``stored`` must not be refused as earlier than it (found in the browser tests)."""
    _batch, [dose, _] = formulated(lab)
    dose = dose_json(lab, dose["id"])
    page = tech_web.get(f"/doses/{dose['id']}/custody").get_data(as_text=True)
    shown = re.search(r'name="occurred_at_shown" value="([^"]+)"', page).group(1)
    token = csrf_token(tech_web, f"/doses/{dose['id']}/custody")
    done = tech_web.post(f"/doses/{dose['id']}/custody", data={
        "csrf_token": token, "event": "retrieved", "location": "Bench 2",
        "occurred_at": shown, "occurred_at_shown": shown,
        "scanned_code": dose["barcodes"]["matrix"]})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    [_stored, retrieved] = lab.client.get(f"/api/v1/doses/{dose['id']}/custody",
                                          headers=lab.tech).json
    assert retrieved["event"] == "retrieved" and not retrieved["late_entry"]
