"""Bench-terminal pages: forms allowed and refused with reasons, roles, CSRF (SPEC §7, §8)."""

from __future__ import annotations

import re

import pytest

from batches.models import Batch, CultureStep, Subject
from lims.auth.services import create_user
from lims.db import db
from tests.fixtures.lab import NEGATIVE, ago
from tests.fixtures.records import KEPT_WRONG_PASSWORD, audit_entries, count_rows
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login


@pytest.fixture
def tech_web(client, login_as):
    login_as("technician")
    return client


def _post(client, path, data, page=None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)})


def test_every_page_renders_for_a_technician(tech_web, lab):
    batch = lab.harvested("MSC")
    doses = lab.post(f"/batches/{batch['id']}/doses",
                     {"count": 2, "cells_per_dose": 1_000_000, "volume_ml": 5.0}).json
    for path in ("/", "/today", "/subjects", "/subjects?kind=donor", "/collections",
                 "/batches", "/batches?status=qc_review", f"/batches/{batch['id']}",
                 f"/batches/{batch['id']}/steps/new",
                 f"/batches/{batch['id']}/steps/new?type=passage",
                 f"/subjects/{batch['recipient_id']}", f"/collections/{batch['collection_id']}",
                 f"/doses/{doses[0]['id']}", "/templates"):
        response = tech_web.get(path)
        assert response.status_code == 200, path
        assert b"data-scan-box" in response.data, path
    for path in ("/batches/999", "/doses/999", "/subjects/999", "/collections/999"):
        assert tech_web.get(path).status_code == 404


def test_register_a_subject_through_the_form(app, tech_web):
    response = _post(tech_web, "/subjects", {"code": "PT-77", "kind": "patient",
                                             "initials": "zz", "date_of_birth": "1980-02-03"})
    assert response.status_code == 302
    page = tech_web.get(response.headers["Location"])
    assert b"PT-77" in page.data and b"unscreened" in page.data
    with app.app_context():
        from sqlalchemy import select

        from lims.db import db

        subject = db.session.scalar(select(Subject).where(Subject.code == "PT-77"))
        assert subject.initials == "ZZ"
        subject_id = subject.id
    assert audit_entries(app, "subject", subject_id)[0]["actor"].startswith("technician")


def test_bad_subject_form_is_400_with_the_field_named(app, tech_web, nothing_written):
    with nothing_written():
        response = _post(tech_web, "/subjects", {"code": "PT-77", "kind": "alien",
                                                 "initials": "A", "date_of_birth": "soon"})
    assert response.status_code == 400
    assert b'data-field-error="kind"' in response.data
    assert b'data-field-error="date_of_birth"' in response.data
    assert count_rows(app, Subject) == 0


def test_form_without_csrf_is_refused(app, tech_web, nothing_written):
    with nothing_written():
        response = tech_web.post("/subjects", data={"code": "PT-1", "kind": "patient",
                                                    "initials": "A",
                                                    "date_of_birth": "1980-01-01"})
    assert response.status_code == 400
    assert count_rows(app, Subject) == 0


def test_recipient_screening_form(tech_web, lab):
    patient = lab.patient(contraindications=None)
    page = f"/subjects/{patient['id']}"
    response = tech_web.post(f"{page}/recipient-screening", data={
        "contraindications": ["immunodeficiency"], "csrf_token": csrf_token(tech_web, page)})
    assert response.status_code == 302
    assert b"contraindicated" in tech_web.get(page).data


def test_batch_registration_refused_shows_the_reasons(app, tech_web, lab, nothing_written):
    patient = lab.patient(contraindications=["clotting_disorder"])
    collection = lab.collection(patient)
    with nothing_written():
        response = _post(tech_web, "/batches", {"collection_id": collection["id"],
                                                "product": "MSC", "origin": "autologous",
                                                "recipient_id": patient["id"]})
    assert response.status_code == 409
    assert b"is contraindicated" in response.data
    assert count_rows(app, Batch) == 0


def test_batch_registration_and_step_logging_through_forms(app, tech_web, lab):
    patient = lab.patient()
    collection = lab.collection(patient)
    response = _post(tech_web, "/batches", {"collection_id": collection["id"], "product": "MSC",
                                            "origin": "autologous",
                                            "recipient_id": patient["id"]})
    assert response.status_code == 302, response.data
    batch_page = response.headers["Location"]
    batch_id = int(batch_page.rsplit("/", 1)[1])
    form = f"/batches/{batch_id}/steps/new?type=seeding"
    page = tech_web.get(form)
    assert b'name="cell_count"' in page.data
    logged = tech_web.post(f"/batches/{batch_id}/steps/new", data={
        "type": "seeding", "performed_at": "", "cell_count": "4000000", "viability_pct": "93.5",
        "media_lot": "", "csrf_token": csrf_token(tech_web, form)})
    assert logged.status_code == 302, logged.data
    shown = tech_web.get(batch_page).data.decode()
    assert 'data-status="in_culture"' in shown
    assert "media change" in shown and "step-pending" in shown
    with app.app_context():
        from lims.db import db

        step = db.session.get(CultureStep, 1)
        assert step.cell_count == 4_000_000 and step.viability_pct == 93.5


def test_step_form_refuses_with_reasons_and_field_errors(app, tech_web, lab, nothing_written):
    batch = lab.batch("MSC")
    form = f"/batches/{batch['id']}/steps/new?type=media_change"
    with nothing_written():
        refused = tech_web.post(f"/batches/{batch['id']}/steps/new", data={
            "type": "media_change", "csrf_token": csrf_token(tech_web, form)})
        assert refused.status_code == 409 and b"registered batch" in refused.data
        bad = tech_web.post(f"/batches/{batch['id']}/steps/new", data={
            "type": "seeding", "viability_pct": "140", "performed_at": "2999-01-01T10:00",
            "csrf_token": csrf_token(tech_web, form)})
        assert bad.status_code == 400 and b'data-field-error="viability_pct"' in bad.data
        future = tech_web.post(f"/batches/{batch['id']}/steps/new", data={
            "type": "seeding", "performed_at": "2999-01-01T10:00",
            "csrf_token": csrf_token(tech_web, form)})
        assert future.status_code == 400 and b"future" in future.data
    assert count_rows(app, CultureStep) == 0


def test_hold_from_the_page_and_resume_only_by_qa(app, client, lab, login_as, nothing_written):
    batch = lab.batch("MSC")
    page = f"/batches/{batch['id']}"
    login_as("technician")
    held = _post(client, f"{page}/hold", {"reason": "power cut"}, page)
    assert held.status_code == 302
    with nothing_written():
        refused = _post(client, f"{page}/resume", {"reason": "ok"}, page)
    assert refused.status_code == 403
    qa = client.application.test_client()
    with app.app_context():
        create_user("quinn", "Quinn QA", "qa", TEST_PASSWORD, permanent=True)
        db.session.commit()
    assert web_login(qa, "quinn").status_code == 302
    resumed = _post(qa, f"{page}/resume", {"reason": "power restored"}, page)
    assert resumed.status_code == 302
    assert audit_entries(app, "batch", batch["id"])[-1]["reason"] == "power restored"


def test_formulation_form_and_admin_cannot_write(app, client, lab, login_as, nothing_written):
    batch = lab.harvested("MSC")
    page = f"/batches/{batch['id']}"
    login_as("admin")
    with nothing_written():
        denied = _post(client, f"{page}/doses", {"count": "2", "cells_per_dose": "1000",
                                                 "volume_ml": "2"}, page)
    assert denied.status_code == 403
    login_as("technician")
    done = _post(client, f"{page}/doses", {"count": "2", "cells_per_dose": "1000",
                                           "volume_ml": "2"}, page)
    assert done.status_code == 302
    shown = client.get(page).data.decode()
    assert re.search(r"-A0<", shown) and 'data-status="qc_review"' in shown


def test_dashboard_panel_lists_todays_work(tech_web, lab):
    batch = lab.batch("NK", "allogeneic")
    lab.step(batch, "seeding", performed_at=ago(hours=47))
    dashboard = tech_web.get("/").data.decode()
    assert 'id="work-today"' in dashboard and batch["batch_number"] in dashboard
    assert "feeding" in dashboard


def test_donor_eligibility_signing_form(app, client, lab, login_as, nothing_written):
    donor = lab.donor("incomplete")
    lab.post(f"/subjects/{donor['id']}/donor-screening",
             {"specimen_collected_at": ago(days=1), "markers": NEGATIVE}, status=200)
    page = f"/subjects/{donor['id']}"
    with app.app_context():
        create_user("quinn", "Quinn QA", "qa", TEST_PASSWORD, permanent=True)
        db.session.commit()
    assert web_login(client, "quinn").status_code == 302
    with nothing_written(audited=KEPT_WRONG_PASSWORD):
        wrong = _post(client, f"{page}/donor-eligibility", {"password": "nope-nope",
                                                           "meaning": "approval"}, page)
    assert wrong.status_code == 401
    signed = _post(client, f"{page}/donor-eligibility", {"password": TEST_PASSWORD,
                                                        "meaning": "approval"}, page)
    assert signed.status_code == 302
    shown = client.get(page).data.decode()
    assert 'data-status="eligible"' in shown and "Quinn QA" in shown


def test_batch_registration_by_scanning_the_collection_din(app, tech_web, lab, nothing_written):
    patient = lab.patient()
    collection = lab.collection(patient)
    body = {"product": "MSC", "origin": "autologous", "recipient_id": patient["id"]}
    with nothing_written():
        unknown = _post(tech_web, "/batches", {**body, "collection_scan": "=Z999999999999900"})
    assert unknown.status_code == 400 and b'data-field-error="collection_scan"' in unknown.data
    assert b"data-scan-field" in unknown.data
    scanned = _post(tech_web, "/batches", {**body, "collection_scan":
                                           "]C0=" + collection["din"] + "00"})
    assert scanned.status_code == 302
    assert count_rows(app, Batch) == 1


def test_admin_revises_a_template_on_the_page(app, client, login_as, nothing_written):
    """Issue 12: the page's revision is a proposal; QA approves it on the change page."""
    login_as("technician")
    assert b"Propose version" not in client.get("/templates").data
    login_as("admin")
    page = client.get("/templates").data.decode()
    assert "Propose version 2" in page
    token = csrf_token(client, "/templates")
    form = {"csrf_token": token, "max_passage": "4", "reason": "validated at P4",
            "rules-0-after_step": "seeding", "rules-0-next_step": "media_change",
            "rules-0-interval_hours": "48", "rules-0-grace_hours": "6"}
    with nothing_written():
        no_reason = client.post("/templates/1/revise", data={**form, "reason": ""})
    assert no_reason.status_code == 400
    proposed = client.post("/templates/1/revise", data=form)
    assert proposed.status_code == 302
    change_url = proposed.headers["Location"]
    shown = client.get("/templates").data.decode()
    assert "v1" in shown and "awaits a QA decision" in shown and 'value="4"' not in shown
    change_page = client.get(change_url).data.decode()
    assert "weakens control" in change_page  # rules removed: steps no longer scheduled
    assert "Sign approval" not in change_page  # an admin does not approve
    login_as("qa")
    change_page = client.get(change_url).data.decode()
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', change_page).group(1)
    signed = _post(client, change_url + "/approve",
                   {"password": TEST_PASSWORD, "meaning": "approval", "digest": digest},
                   page=change_url)
    assert signed.status_code == 302, signed.get_data(as_text=True)
    shown = client.get("/templates").data.decode()
    assert "v2" in shown and "Maximum passage P4" in shown
    assert audit_entries(app, "process_template", 1)[-1]["changes"]["active"] == [True, False]


def test_1271_90_c_a_patients_testing_through_the_subject_page(app, tech_web, lab):
    """SPEC §2: the patient's page records their own infectious-disease testing with the same
    markers; a reactive result shows as "store segregated" on the batch and dose pages."""
    from datetime import timedelta

    from tests.fixtures.lab import now

    batch = lab.harvested("MSC")
    doses = lab.post(f"/batches/{batch['id']}/doses",
                     {"count": 1, "cells_per_dose": 1_000_000, "volume_ml": 5.0}).json
    page = f"/subjects/{batch['recipient_id']}"
    assert b"Infectious-disease testing (autologous use)" in tech_web.get(page).data
    specimen = (now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = _post(tech_web, f"{page}/donor-screening",
                     {"specimen_collected_at": specimen,
                      **{f"markers.{m}": v for m, v in NEGATIVE.items()},
                      "markers.hcv_nat": "reactive"}, page=page)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    shown = tech_web.get(page).data
    assert b'data-testing-status="reactive"' in shown and b"store segregated" in shown
    for path in (f"/batches/{batch['id']}", f"/doses/{doses[0]['id']}"):
        text = tech_web.get(path).get_data(as_text=True)
        assert 'id="segregated-storage"' in text, path
        assert "store segregated: reactive autologous product (hcv_nat)" in text, path
    assert lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}",
                          headers=lab.tech).json["donor_status"] is None
