"""QC specifications as data, per product and stage, versioned (SPEC §2 QC specification).

* A batch is judged by the version in force when it was registered: the highest
  version of (product, stage) whose ``effective_from`` is not after the batch's
  ``registered_at`` (:func:`spec_for_batch`).
* An admin revises a specification with a reason: a new version effective from
  now; batches registered earlier keep theirs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from batches.common import get_or_404
from batches.models import Batch, Product
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest
from qc.evaluation import Criterion
from qc.models import Specification, SpecTest, Stage


def criterion(test: SpecTest) -> Criterion:
    return Criterion(test=test.test, kind=test.kind, comparator=test.comparator,
                     limit=test.limit_value, unit=test.unit,
                     expected_outcome=test.expected_outcome)


def get_specification(spec_id: int) -> Specification:
    return get_or_404(Specification, spec_id, "QC specification")


def list_specifications(product: str | None = None, current_only: bool = False
                        ) -> list[Specification]:
    query = select(Specification).join(Product)
    if product:
        query = query.where(Product.code == product)
    specs = list(db.session.scalars(query.order_by(Product.code, Specification.stage,
                                                   Specification.version)))
    if current_only:
        latest: dict[tuple[int, str], Specification] = {}
        for spec in specs:
            latest[(spec.product_id, spec.stage)] = spec
        specs = list(latest.values())
    return specs


def spec_in_force(product_id: int, stage: str, at) -> Specification | None:
    """The version of (product, stage) in force at ``at``."""
    return db.session.scalar(select(Specification).where(
        Specification.product_id == product_id, Specification.stage == stage,
        Specification.effective_from <= at).order_by(Specification.version.desc()).limit(1))


def spec_for_batch(batch: Batch, stage: str = Stage.release) -> Specification | None:
    """The specification a batch is judged by: the one in force at its registration."""
    return spec_in_force(batch.product_id, stage, batch.registered_at)


@user_is_actor
def revise_specification(spec: Specification, tests: list[dict[str, Any]], reason: str,
                         user: User) -> Specification:
    """An admin revises a specification (SPEC §2: specifications are data, editable by an
    admin): a new version effective now; batches registered earlier keep theirs."""
    latest = db.session.scalar(select(Specification).where(
        Specification.product_id == spec.product_id, Specification.stage == spec.stage)
        .order_by(Specification.version.desc()).limit(1))
    codes = [t["test"] for t in tests]
    if len(set(codes)) != len(codes):
        raise BadRequest("A test appears twice.", details={"fields": {"tests": "duplicate test"}})
    with audit_reason(reason):
        revised = Specification(product_id=spec.product_id, stage=spec.stage,
                                version=latest.version + 1, effective_from=clock.utcnow(),
                                created_by_id=user.id, change_reason=reason)
        db.session.add(revised)
        db.session.flush()
        for position, test in enumerate(tests, start=1):
            db.session.add(SpecTest(specification_id=revised.id, position=position, **test))
        db.session.flush()
    db.session.refresh(revised)
    return revised


def find_spec_test(batch: Batch, test: str, stage: str | None) -> SpecTest:
    """The criterion a result of ``test`` on ``batch`` is judged by; 400 naming ``test`` when
    the batch's specification has no such test. Without a stage: release, else in-process."""
    stages = [stage] if stage else [Stage.release.value, Stage.in_process.value]
    known: list[str] = []
    for candidate in stages:
        spec = spec_for_batch(batch, candidate)
        if spec is None:
            continue
        found = spec.test(test)
        if found is not None:
            return found
        known += [t.test for t in spec.tests]
    if not known:
        raise BadRequest(f"No specification is in force for {batch.product.code}.",
                         details={"fields": {"test": ["no specification in force"]}})
    raise BadRequest(f"{test!r} is not a test of the {batch.product.code} specification.",
                     details={"fields": {"test": [f"one of {sorted(set(known))}"]}})
