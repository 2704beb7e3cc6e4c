"""QC specifications as data, per product and stage, versioned (SPEC §2 QC specification).

* A batch is judged by the version in force when it was registered: the highest
  version of (product, stage) whose ``effective_from`` is not after the batch's
  ``registered_at`` (:func:`spec_for_batch`).
* Specifications are change-controlled (issue 12, :mod:`batches.change_control`): an
  admin or QA officer proposes a new version with a reason (:func:`propose_spec_change`;
  the old ``revise`` does the same); it is in force only from the moment a QA officer
  other than the proposer signs its approval, with the previous version kept; batches
  registered earlier keep theirs. :mod:`qc.spec_diff` says what a change does and which
  of its items weaken control.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select

from batches.change_control import Controlled, get_change, propose
from batches.change_rules import ChangeKind
from batches.common import get_or_404
from batches.models import Batch, ChangeProposal, Product
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest
from qc.evaluation import Criterion
from qc.models import Specification, SpecTest, Stage
from qc.spec_diff import spec_changes


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


SPEC_TEST_FIELDS = tuple(c.key for c in SpecTest.__table__.columns
                         if c.key not in ("id", "specification_id", "position"))
"""A test's criterion as a change holds it (every recorded column but the row's place)."""


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def spec_content(spec: Specification) -> dict[str, Any]:
    """A specification version as change control holds it: its tests, in order."""
    return {"tests": [{key: _plain(getattr(test, key)) for key in SPEC_TEST_FIELDS}
                      for test in spec.tests]}


def _latest(product_id: int, stage: str | None) -> Specification | None:
    return db.session.scalar(select(Specification).where(
        Specification.product_id == product_id, Specification.stage == stage)
        .order_by(Specification.version.desc()).limit(1))


def _spec_in_force_now(product_id: int, stage: str | None) -> int | None:
    latest = _latest(product_id, stage)
    return latest.version if latest is not None else None


def _spec_version(product_id: int, stage: str | None, version: int) -> dict[str, Any] | None:
    spec = db.session.scalar(select(Specification).where(
        Specification.product_id == product_id, Specification.stage == stage,
        Specification.version == version))
    return spec_content(spec) if spec is not None else None


def _put_spec_in_force(change: ChangeProposal, effective_from: datetime) -> int:
    """The approved tests become the next version of (product, stage), in force from
    ``effective_from``: batches registered before it keep the version they had."""
    latest = _latest(change.product_id, change.stage)
    revised = Specification(product_id=change.product_id, stage=change.stage,
                            version=(latest.version if latest else 0) + 1,
                            effective_from=effective_from, created_by_id=change.proposed_by_id,
                            change_reason=change.reason)
    db.session.add(revised)
    db.session.flush()
    for position, test in enumerate(change.content_data["tests"], start=1):
        db.session.add(SpecTest(specification_id=revised.id, position=position, **test))
    db.session.flush()
    db.session.refresh(revised)
    return revised.version


SPECIFICATION = Controlled(kind=ChangeKind.qc_specification, label="QC specification",
                           version_in_force=_spec_in_force_now, version_content=_spec_version,
                           diff=spec_changes, put_in_force=_put_spec_in_force)
"""QC specifications under change control (:mod:`batches.change_control`)."""


@user_is_actor
def propose_spec_change(product: Product, stage: str, tests: list[dict[str, Any]],
                        reason: str, user: User) -> ChangeProposal:
    """An admin or QA officer proposes a new version of the (product, stage) specification
    (issue 12): the whole list of tests, with a reason. Nothing changes until a QA officer
    other than the proposer signs the approval (:func:`batches.change_control.approve_change`)."""
    codes = [t["test"] for t in tests]
    if len(set(codes)) != len(codes):
        raise BadRequest("A test appears twice.", details={"fields": {"tests": "duplicate test"}})
    content = {"tests": [{key: _plain(test.get(key)) for key in SPEC_TEST_FIELDS}
                         for test in tests]}
    return propose(SPECIFICATION, product, Stage(stage).value, content, reason, user)


@user_is_actor
def revise_specification(spec: Specification, tests: list[dict[str, Any]], reason: str,
                         user: User) -> ChangeProposal:
    """Revising a specification is proposing a change of its (product, stage): see
    :func:`propose_spec_change`."""
    return propose_spec_change(spec.product, spec.stage, tests, reason, user)


def get_spec_change(change_id: int) -> ChangeProposal:
    return get_change(SPECIFICATION, change_id)


def find_spec_test(batch: Batch, test: str, stage: str | None) -> SpecTest:
    """The criterion a result of ``test`` on ``batch`` is judged by; 400 naming ``test`` when
    the batch's specification has no such test. Without a stage: release, else in-process."""
    stages = [stage] if stage else [Stage.release, Stage.in_process]
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
