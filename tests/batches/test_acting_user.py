"""The acting user is explicit (STYLE): a batches service called outside a request — from a
CLI command or a scheduled job — audits the user it is given, not whoever the context says."""

from __future__ import annotations

from datetime import timedelta

from batches import services
from batches.schemas import (
    BatchCreateSchema,
    CollectionCreateSchema,
    FormulationSchema,
    ProductUpdateSchema,
    StepCreateSchema,
    SubjectCreateSchema,
    TemplateRevisionSchema,
)
from lims import clock
from lims.auth.services import get_user
from lims.db import db
from tests.fixtures.lab import NEGATIVE, ago
from tests.fixtures.records import call_as
from tests.fixtures.users import TEST_PASSWORD


def test_every_batches_service_audits_the_user_it_is_given(app, make_user):
    tech_id, _ = make_user("technician")
    qa_id, _ = make_user("qa")
    admin_id, _ = make_user("admin")
    with app.app_context():
        tech, qa, admin = get_user(tech_id), get_user(qa_id), get_user(admin_id)
        patient = call_as(tech, services.register_subject, SubjectCreateSchema().load(
            {"code": "PT-CLI", "kind": "patient", "initials": "AB", "date_of_birth": "1970-01-02"}))
        call_as(tech, services.screen_recipient, patient, [])
        collection = call_as(tech, services.register_collection, CollectionCreateSchema().load(
            {"subject_id": patient.id, "source": "bone_marrow", "collected_at": ago(days=2),
             "volume_ml": 40.0}))
        batch = call_as(tech, services.register_batch, BatchCreateSchema().load(
            {"collection_id": collection.id, "product": "MSC", "origin": "autologous",
             "recipient_id": patient.id}))
        seeding = call_as(tech, services.log_step, batch, StepCreateSchema().load(
            {"type": "seeding", "performed_at": ago(hours=3)}))
        call_as(tech, services.correct_step, seeding, {"notes": "flask 2"}, "omitted at entry")
        call_as(tech, services.hold_batch, batch, "incubator alarm")
        call_as(qa, services.resume_batch, batch, "alarm checked")
        call_as(tech, services.log_step, batch, StepCreateSchema().load(
            {"type": "harvest", "cell_count": 50_000_000, "viability_pct": 90.0}))
        [dose, _] = call_as(tech, services.formulate, batch, FormulationSchema().load(
            {"count": 2, "cells_per_dose": 10_000_000, "volume_ml": 5.0}))
        call_as(tech, services.record_custody_event, dose, {
            "event": "retrieved", "location": "Bench 1",
            "scanned_code": services.barcode_texts(dose)["matrix"]})

        donor = call_as(tech, services.register_subject, SubjectCreateSchema().load(
            {"code": "DN-CLI", "kind": "donor", "initials": "CD", "date_of_birth": "1990-05-06"}))
        call_as(tech, services.screen_donor, donor, clock.utcnow() - timedelta(days=1),
                dict(NEGATIVE))
        call_as(qa, services.determine_eligibility, donor, TEST_PASSWORD, "approval")

        template = services.active_template(services.find_product("NK"))
        call_as(admin, services.revise_template, template,
                TemplateRevisionSchema().load({"reason": "PV-7", "max_passage": 3}), "PV-7")
        call_as(admin, services.update_product, services.find_product("NK"),
                ProductUpdateSchema().load({"reason": "ICCBBA code", "description_code": "S7777"}),
                "ICCBBA code")
        db.session.commit()
