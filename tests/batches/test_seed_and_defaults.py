"""Demo seed data and the default products/templates the migration seeds."""

from __future__ import annotations

from sqlalchemy import select

from batches import process_defaults
from batches.models import Batch, ProcessTemplate, Product, Subject
from lims.cli import DEMO_PASSWORD
from lims.db import db
from tests.fixtures.users import web_login


def test_seed_demo_creates_realistic_batches(app, runner):
    result = runner.invoke(args=["lims", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["lims", "seed-demo"]).exit_code == 0, "idempotent"
    with app.app_context():
        batches = {b.product.code: b for b in db.session.scalars(select(Batch))}
        assert set(batches) == {"MSC", "NK"}
        assert batches["MSC"].origin == "autologous" and batches["MSC"].status == "in_culture"
        assert batches["NK"].origin == "allogeneic" and batches["NK"].status == "in_culture"
        subjects = list(db.session.scalars(select(Subject)))
        assert {s.kind for s in subjects} == {"patient", "donor"} and len(subjects) == 6
        msc_id = batches["MSC"].id
    client = app.test_client()
    assert web_login(client, "tech1", DEMO_PASSWORD).status_code == 302
    page = client.get(f"/batches/{msc_id}").data.decode()
    assert "passage" in page and "media change" in page
    assert runner.invoke(args=["lims", "audit-verify"]).exit_code == 0


def test_migration_seeds_the_default_products_and_templates(app):
    with app.app_context():
        products = {p.code: p for p in db.session.scalars(select(Product))}
        for expected in process_defaults.PRODUCTS:
            product = products[expected["code"]]
            assert {k: getattr(product, k) for k in expected} == expected
        for code, expected in process_defaults.TEMPLATES.items():
            template = db.session.scalar(select(ProcessTemplate).join(Product)
                                         .where(Product.code == code))
            assert template.name == expected["name"]
            assert template.max_passage == expected["max_passage"]
            assert [(r.after_step, r.next_step, r.interval_hours, r.grace_hours)
                    for r in template.rules] == expected["rules"]
