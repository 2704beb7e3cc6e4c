"""The acting user is explicit (STYLE): a qc service called outside a request — from a CLI
command or a scheduled job — audits the user it is given, not whoever the context says."""

from __future__ import annotations

from batches import services as batches
from lims.auth.services import get_user
from lims.db import db
from qc import services
from qc.schemas import ResultCreateSchema, SpecRevisionSchema
from tests.fixtures.qc import PASSING, RELEASE_TESTS
from tests.fixtures.records import call_as
from tests.fixtures.users import TEST_PASSWORD


def test_every_qc_service_audits_the_user_it_is_given(app, qlab, make_user):
    to_release, to_reject = qlab.in_review(), qlab.in_review()
    ids = [make_user(role)[0] for role in ("technician", "technician", "qa", "qa", "admin")]
    with app.app_context():
        tech, reviewer, qa, signer, admin = (get_user(i) for i in ids)
        batch = batches.get_batch(to_release["id"])
        for test in RELEASE_TESTS["MSC"]:
            entered = call_as(tech, services.enter_result, batch,
                              ResultCreateSchema().load({"test": test, **PASSING[test]}))
            if test == "viability":
                call_as(tech, services.correct_result, entered, {"value": 92.0}, "typo")
            call_as(reviewer, services.review_result, entered)
        deviation = call_as(tech, services.open_deviation, batch, "freezer alarm at night")
        call_as(tech, services.record_investigation, deviation, "alarm test, no excursion")
        call_as(qa, services.close_deviation, deviation, "no impact", TEST_PASSWORD, "approval")
        call_as(signer, services.release_batch, batch, TEST_PASSWORD, "approval")
        dose = batch.doses[0]
        scanned = batches.barcode_texts(dose)["matrix"]
        for event in ("retrieved", "shipped", "received", "thawed"):
            call_as(tech, batches.record_custody_event, dose,
                    {"event": event, "location": "Ward 5", "scanned_code": scanned})
        call_as(tech, batches.administer_dose, dose, {
            "patient_code": batch.recipient.code,
            "patient_date_of_birth": batch.recipient.date_of_birth, "scanned_code": scanned})

        other = batches.get_batch(to_reject["id"])
        call_as(tech, services.enter_result, other,  # out of spec: opens a deviation too
                ResultCreateSchema().load({"test": "viability", "value": 40.0, "unit": "%"}))
        call_as(qa, services.reject_batch, other, TEST_PASSWORD, "viability 40 %")

        [spec] = [s for s in services.list_specifications("NK", True) if s.stage == "release"]
        tests = [{"test": t.test, "name": t.name, "kind": t.kind, "comparator": t.comparator,
                  "limit_value": t.limit_value, "unit": t.unit,
                  "expected_outcome": t.expected_outcome} for t in spec.tests]
        for test in tests:  # a real change: an identical proposal is refused (change control)
            if test["test"] == "viability":
                test["limit_value"] = 75.0
        call_as(admin, services.revise_specification, spec,
                SpecRevisionSchema().load({"reason": "CC-12", "tests": tests})["tests"], "CC-12")
        db.session.commit()
