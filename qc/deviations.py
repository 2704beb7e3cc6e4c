"""Deviations: opened by an out-of-spec result, an overdue step, or by hand; investigated;
closed by QA with a disposition and an electronic signature (SPEC §2 Deviation).

* :func:`open_for_result` — one open deviation per out-of-spec result.
* :func:`open_deviation_for_overdue_step` — the scheduler's entry point; idempotent
  per step (a partial unique index on ``step_id`` backs it against concurrent sweeps).
* Closing needs QA, the password (meaning ``approval`` by default, or
  ``responsibility`` / ``review``) and a disposition; the signature is bound to the
  deviation as closed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc, select

from batches.common import get_or_404
from batches.models import Batch, CultureStep
from lims import clock
from lims.audit.context import user_is_actor
from lims.auth.models import Role, User
from lims.auth.services import sign
from lims.auth.signing import meanings_for
from lims.db import db
from lims.errors import Conflict, Forbidden
from qc import signing_acts
from qc.models import Deviation, DeviationKind, DeviationStatus, QcResult


def _number(deviation: Deviation) -> str:
    return f"DEV-{deviation.id}"


def label(deviation: Deviation) -> str:
    return f"{_number(deviation)} ({deviation.kind.replace('_', ' ')}: {deviation.description})"


@user_is_actor
def open_for_result(result: QcResult, user: User | None) -> Deviation:
    """Open an out-of-spec deviation for a failing result, unless one is open already."""
    existing = db.session.scalar(select(Deviation).where(
        Deviation.qc_result_id == result.id, Deviation.status == DeviationStatus.open))
    if existing is not None:
        return existing
    spec = result.spec_test
    deviation = Deviation(
        batch_id=result.batch_id, kind=DeviationKind.out_of_spec,
        status=DeviationStatus.open, qc_result_id=result.id,
        opened_by_id=user.id if user else None, opened_at=clock.utcnow(),
        description=f"{result.test} {result.reported} out of specification "
                    f"({spec.criterion_text})")
    db.session.add(deviation)
    db.session.flush()
    db.session.expire(result, ["deviations"])  # a loaded result.deviations would miss it
    return deviation


@user_is_actor
def open_deviation_for_overdue_step(step: CultureStep, user: User | None = None
                                    ) -> tuple[Deviation, bool]:
    """Open a deviation for an overdue culture step (for the scheduler's sweep).

    Idempotent per step: a second call, or a concurrent one, returns the existing
    deviation; returns ``(deviation, created)``.
    """
    existing = db.session.scalar(select(Deviation).where(Deviation.step_id == step.id))
    if existing is not None:
        return existing, False
    due = step.due_at.strftime("%Y-%m-%d %H:%M UTC") if step.due_at else "unscheduled"
    deviation = Deviation(
        batch_id=step.batch_id, kind=DeviationKind.overdue_step,
        status=DeviationStatus.open, step_id=step.id,
        opened_by_id=user.id if user else None, opened_at=clock.utcnow(),
        description=f"{step.type.replace('_', ' ')} step overdue (due {due}, "
                    f"grace {step.grace_hours or 0} h)")
    try:
        with db.session.begin_nested():
            db.session.add(deviation)
    except exc.IntegrityError:
        winner = db.session.scalars(select(Deviation).where(Deviation.step_id == step.id)).one()
        return winner, False
    return deviation, True


@user_is_actor
def open_deviation(batch: Batch, description: str, user: User) -> Deviation:
    """Open a deviation by hand (kind ``other``). On a released batch it suspends the
    release (SPEC §3b, :mod:`qc.post_release`)."""
    from qc.post_release import after_deviation_opened

    deviation = open_deviation_for(batch, description, user)
    after_deviation_opened(deviation, user)
    return deviation


def open_deviation_for(batch: Batch, description: str, user: User | None) -> Deviation:
    """A deviation of kind ``other`` (by hand, or for a post-release failure)."""
    deviation = Deviation(batch_id=batch.id, kind=DeviationKind.other,
                          status=DeviationStatus.open,
                          description=description.strip()[:10000],
                          opened_by_id=user.id if user is not None else None,
                          opened_at=clock.utcnow())
    db.session.add(deviation)
    db.session.flush()
    return deviation


@user_is_actor
def record_investigation(deviation: Deviation, text: str, user: User) -> Deviation:
    """Write or extend the investigation of an open deviation (each change audited)."""
    if not deviation.is_open:
        raise Conflict("The deviation is closed.", [f"{_number(deviation)} is closed"])
    deviation.investigation = text.strip()
    db.session.flush()
    return deviation


def deviation_content(deviation: Deviation) -> dict[str, Any]:
    """What the closing signature binds: the deviation as closed."""
    return {"id": deviation.id, "batch_id": deviation.batch_id, "kind": deviation.kind,
            "description": deviation.description, "qc_result_id": deviation.qc_result_id,
            "step_id": deviation.step_id, "investigation": deviation.investigation,
            "disposition": deviation.disposition}


@user_is_actor
def close_deviation(deviation: Deviation, disposition: str, password: str, meaning: str,
                    user: User, *, username: str | None = None) -> Deviation:
    """QA closes a deviation with a disposition and an e-signature (SPEC §2, §8)."""
    if user.role != Role.qa:
        raise Forbidden("Only QA can close a deviation.",
                        details={"required_roles": ["qa"], "role": user.role})
    if not deviation.is_open:
        raise Conflict("The deviation is already closed.", [f"{_number(deviation)} is closed"])
    disposition = disposition.strip()
    signature = sign(user, password, meaning, "deviation", deviation.id,
                     {**deviation_content(deviation), "disposition": disposition},
                     allowed=meanings_for(signing_acts.DEVIATION_CLOSURE), username=username,
                     statement=f"Closes {_number(deviation)}: {disposition}")
    deviation.disposition = disposition
    deviation.status = DeviationStatus.closed
    deviation.closed_by_id = user.id
    deviation.closed_at = signature.signed_at
    deviation.closure_signature_id = signature.id
    db.session.flush()
    return deviation


def get_deviation(deviation_id: int) -> Deviation:
    return get_or_404(Deviation, deviation_id, "deviation")


def list_deviations(batch: Batch | None = None, open_only: bool | None = None,
                    limit: int = 500) -> list[Deviation]:
    query = select(Deviation)
    if batch is not None:
        query = query.where(Deviation.batch_id == batch.id)
    if open_only is True:
        query = query.where(Deviation.status == DeviationStatus.open)
    elif open_only is False:
        query = query.where(Deviation.status == DeviationStatus.closed)
    return list(db.session.scalars(query.order_by(Deviation.status.desc(), Deviation.id.desc())
                                   .limit(limit)))
