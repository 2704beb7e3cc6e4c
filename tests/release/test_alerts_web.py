"""SPEC §3b alerts on the dashboard and the alerts page: a post-release failure is the most
urgent (red, first, even once acknowledged); identity-mismatch and post-release alerts are
closed by QA with a written investigation — the person who caused one, and anyone not QA,
is told why they cannot; acknowledging never closes them."""

from __future__ import annotations

import re

from lims.alerts.models import Alert
from tests.fixtures.records import KEPT_IDENTITY_MISMATCH
from tests.release.web import post_form, text


def _rows(html: str) -> list[tuple[str, str]]:
    """(kind, severity) of each alert row, in page order."""
    return re.findall(r'data-kind="(\w+)" data-severity="(\d)"', html)


def _alert(rlab, batch, kind):
    [alert] = rlab.alerts(batch, kind)
    return alert


def test_a_post_release_failure_is_red_first_and_closed_only_by_another_qa(
        app, client, login_as, rlab, nothing_written):
    batch, doses = rlab.released("NK")
    sterility = rlab.results(batch)["sterility"]

    # A technician corrects the sterility result on the review page: a post-release failure.
    login_as("technician")
    corrected = post_form(client, f"/qc/qc-results/{sterility['id']}/correct",
                          {"outcome": "positive", "reason": "plate misread"})
    assert corrected.status_code == 302
    failure = _alert(rlab, batch, "post_release_failure")
    assert failure["severity"] == 0 and failure["caused_by"]

    dashboard = client.get("/")
    html = dashboard.get_data(as_text=True)
    rows = _rows(html)
    assert rows[0] == ("post_release_failure", "0"), rows
    assert "MOST URGENT · Post-release failure" in text(dashboard)
    assert re.search(r'<tr class="sev-0 alert-urgent"', html)
    shown = text(dashboard)
    assert "You cannot close it: only qa closes it, with a written investigation; whoever " \
           "caused the alert cannot close it" in shown
    assert f'id="close-alert-{failure["id"]}"' not in html

    # Acknowledging says it was seen: still open, still first.
    assert post_form(client, f"/alerts/{failure['id']}/acknowledge",
                     {"comment": "QA informed by phone"}).status_code == 302
    assert _alert(rlab, batch, "post_release_failure")["resolved_at"] is None
    page = client.get("/alerts")
    assert _rows(page.get_data(as_text=True))[0] == ("post_release_failure", "0")
    assert "still open: closed only with an investigation" in text(page)
    with nothing_written():
        assert post_form(client, f"/alerts/{failure['id']}/close",
                         {"investigation": "I looked"}).status_code == 403

    # A QA officer who did not cause it closes it with the investigation.
    login_as("qa")
    html = client.get("/alerts").get_data(as_text=True)
    assert f'id="close-alert-{failure["id"]}"' in html
    with nothing_written():
        empty = post_form(client, f"/alerts/{failure['id']}/close", {"investigation": ""})
    assert empty.status_code == 400
    done = post_form(client, f"/alerts/{failure['id']}/close",
                     {"investigation": "Contaminated plate confirmed; DEV opened; batch "
                                       "to be recalled."})
    assert done.status_code == 302
    closed = rlab.alerts(batch, "post_release_failure", open_only=False)[0]
    assert closed["resolved_at"] and closed["investigation"].startswith("Contaminated plate")
    shown = text(client.get("/alerts?show=all"))
    assert "closed after investigation" in shown and "Contaminated plate confirmed" in shown


def test_whoever_caused_an_identity_mismatch_is_told_why_they_cannot_close_it(
        app, client, login_as, rlab, nothing_written):
    _batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    causer = login_as("qa")
    with nothing_written(audited=KEPT_IDENTITY_MISMATCH):
        refused = post_form(client, "/bedside", {
            "scanned_code": dose["barcodes"]["matrix"], "patient_code": "PT-NOBODY",
            "patient_date_of_birth": "1970-01-02"}, page="/bedside")
    assert refused.status_code == 409
    with app.app_context():
        from lims.db import db

        alert = db.session.query(Alert).filter_by(kind="identity_mismatch").one()
        alert_id = alert.id
    page = client.get("/alerts")
    shown = text(page)
    assert f"caused by {causer}" in shown
    assert "You cannot close it: whoever caused the alert cannot close it" in shown
    assert f'id="close-alert-{alert_id}"' not in page.get_data(as_text=True)
    with nothing_written():
        mine = post_form(client, f"/alerts/{alert_id}/close",
                         {"investigation": "my own mistake"})
    assert mine.status_code == 409
    assert "whoever caused the alert cannot close it" in text(mine)

    login_as("admin")
    assert "only qa closes it" in text(client.get("/alerts"))
    with nothing_written():
        assert post_form(client, f"/alerts/{alert_id}/close",
                         {"investigation": "x"}).status_code == 403

    login_as("qa")
    assert post_form(client, f"/alerts/{alert_id}/close",
                     {"investigation": "Wrong wristband scanned; dose not given; "
                                       "retrained."}).status_code == 302
    with app.app_context():
        from lims.db import db

        assert db.session.get(Alert, alert_id).closed_by_id is not None
