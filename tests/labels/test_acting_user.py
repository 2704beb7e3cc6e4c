"""The acting user is explicit (STYLE): a labels service called outside a request audits the
user it is given, not whoever the context says."""

from __future__ import annotations

from batches import services as batches
from labels import audit_bundle, services
from lims.auth.services import get_user
from tests.batches.dose_helpers import formulated
from tests.fixtures.records import call_as
from tests.labels.test_printing import LOOPBACK, fake_printer


def test_printing_and_the_bundle_export_audit_the_user_they_are_given(app, lab, make_user):
    batch, [dose, _] = formulated(lab)
    tech_id, _ = make_user("technician")
    qa_id, _ = make_user("qa")
    with fake_printer() as printer, app.app_context():
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=printer.server_address[1])
        call_as(get_user(tech_id), services.print_dose_label, batches.get_dose(dose["id"]))
        printer.jobs.get(timeout=5)
        call_as(get_user(qa_id), audit_bundle.audit_bundle, batches.get_batch(batch["id"]))
