"""Label buttons on the bench pages: PDFs open in the browser, "send to printer" posts
with a reason for a reprint (SPEC §6, §7)."""

from __future__ import annotations

import pytest

from labels.models import LabelPrint
from tests.batches.dose_helpers import formulated
from tests.fixtures.records import count_rows
from tests.fixtures.users import csrf_token
from tests.labels.test_printing import LOOPBACK, fake_printer


@pytest.fixture
def tech_web(client, login_as):
    login_as("technician")
    return client


def test_pages_offer_the_label_documents(tech_web, lab):
    batch, [dose, _] = formulated(lab)
    page = tech_web.get(f"/doses/{dose['id']}").get_data(as_text=True)
    for link in (f"/doses/{dose['id']}/label.pdf", f"/doses/{dose['id']}/custody-report.pdf",
                 f"/doses/{dose['id']}/print", "Send to label printer"):
        assert link in page
    assert f"/batches/{batch['id']}/labels.pdf" in tech_web.get(f"/batches/{batch['id']}").get_data(
        as_text=True)
    assert f"/collections/{batch['collection_id']}/label.pdf" in tech_web.get(
        f"/collections/{batch['collection_id']}").get_data(as_text=True)
    for path in (f"/doses/{dose['id']}/label.pdf", f"/batches/{batch['id']}/labels.pdf",
                 f"/doses/{dose['id']}/custody-report.pdf",
                 f"/collections/{batch['collection_id']}/label.pdf",
                 f"/batches/{batch['id']}/vessel-label.pdf?vessel=F1"):
        response = tech_web.get(path)
        assert response.status_code == 200 and response.mimetype == "application/pdf", path


def test_send_to_printer_and_reprint_with_a_reason(app, tech_web, lab, nothing_written):
    _batch, [dose, _] = formulated(lab)
    path = f"/doses/{dose['id']}/print"
    with fake_printer() as printer:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=printer.server_address[1])
        token = csrf_token(tech_web, f"/doses/{dose['id']}")
        assert tech_web.post(path, data={"csrf_token": token}).status_code == 302
        printer.jobs.get(timeout=5)
        page = tech_web.get(f"/doses/{dose['id']}").get_data(as_text=True)
        assert "Reprint reason" in page
        with nothing_written():
            refused = tech_web.post(path, data={"csrf_token": token})
        assert refused.status_code == 303
        assert "reprint needs a reason" in tech_web.get(f"/doses/{dose['id']}").get_data(
            as_text=True)
        assert tech_web.post(path, data={"csrf_token": token,
                                         "reason": "torn"}).status_code == 302
        printer.jobs.get(timeout=5)
    assert count_rows(app, LabelPrint) == 2
