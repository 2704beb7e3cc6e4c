"""The batches package's jobs in the scheduler's sweep (SPEC §4; issue 6).

* ``overdue_steps``: an ``overdue_step`` alert for each pending culture step past
  ``due_at + grace`` (``overdue_at``) of a batch still being worked on; the alert
  is resolved once the step is logged or cancelled, its due time moves later, or
  the batch leaves culture (harvested, rejected…).
* ``expiring_doses``: a ``dose_expiring`` alert for each dose still in stock
  (quarantined, released, shipped or delivered) whose expiry — its post-thaw
  expiry once thawed, when earlier — falls within ``DOSE_EXPIRY_WARNING_HOURS``
  (default 72). A dose already past its expiry keeps
  its alert (it must still be disposed of); the alert is resolved when the dose is
  administered, disposed or rejected, or its expiry is corrected later.

Each job is one indexed query returning only what is due (``ix_culture_step_pending_overdue``,
``ix_dose_status_expires``) followed by :func:`lims.alerts.services.reconcile`, which
reads only the open alerts of its kind: the work is proportional to what is due,
not to the size of the database.

Other packages react to a newly overdue step (``qc`` opens a deviation) through
:func:`add_overdue_step_listener`; ``batches`` never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

from flask import Flask, current_app, url_for
from sqlalchemy import select

from batches.alerts import BatchAlert
from batches.common import facility_tz
from batches.culture import STEP_WORK_STATES
from batches.models import Batch, CultureStep, Dose, DoseStatus, StepStatus
from lims.alerts.models import Alert
from lims.alerts.services import Cause, reconcile
from lims.db import db

IN_STOCK = (DoseStatus.quarantined, DoseStatus.released, DoseStatus.shipped,
            DoseStatus.delivered)
"""Dose states that can still expire on the shelf (not administered, disposed or rejected)."""

OverdueStepListener = Callable[[CultureStep], object]
_LISTENERS_KEY = "batches_overdue_step_listeners"


def add_overdue_step_listener(app: Flask, listener: OverdueStepListener) -> None:
    """Call ``listener(step)`` in the sweep's transaction for each step that has just
    become overdue (once per newly opened ``overdue_step`` alert).

    This is how ``qc`` opens a deviation for an overdue step (SPEC §2 Deviation)
    without ``batches`` importing ``qc``.
    """
    app.extensions.setdefault(_LISTENERS_KEY, []).append(listener)


def _local(value: datetime, tz: tzinfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def overdue_step_causes(now: datetime) -> list[Cause]:
    """Pending steps late at ``now`` (past due_at + grace), of batches still in culture:
    a range scan of ``ix_culture_step_pending_overdue`` joined to their batches.

    The summary (batch number, step type, due time in the lab's time zone) is made
    only for an alert being opened, not for each sweep that finds it open already.
    """
    tz = facility_tz()
    db.session.flush()
    rows = db.session.connection().execute(  # Core rows: no ORM row processing
        select(CultureStep.id, CultureStep.type, CultureStep.due_at, CultureStep.grace_hours,
               Batch.id, Batch.batch_number)
        .join(Batch, Batch.id == CultureStep.batch_id)
        .where(CultureStep.status == StepStatus.pending, CultureStep.overdue_at < now,
               Batch.status.in_(STEP_WORK_STATES)))

    def summary(step_type: str, due_at: datetime | None, grace: int | None,
                batch_number: str) -> Callable[[], str]:
        # due_at is always set here: the query selects by overdue_at (= due_at + grace).
        return lambda: (f"{step_type.replace('_', ' ').capitalize()} of batch {batch_number} "
                        f"is overdue: due {_local(due_at, tz) if due_at else 'unscheduled'} "
                        f"(grace {grace or 0} h)")

    return [Cause("culture_step", str(step_id), summary(step_type, due_at, grace, batch_number),
                  batch_id=batch_id)
            for step_id, step_type, due_at, grace, batch_id, batch_number in rows]


def overdue_steps(now: datetime) -> dict[str, int]:
    """Sweep job: open/resolve ``overdue_step`` alerts; tell the listeners of new ones."""
    opened, resolved = reconcile(BatchAlert.overdue_step, overdue_step_causes(now))
    listeners = current_app.extensions.get(_LISTENERS_KEY, [])
    if listeners and opened:
        _notify(listeners, opened)
    return {"opened": len(opened), "resolved": len(resolved)}


def _notify(listeners: list[OverdueStepListener], opened: list[Alert]) -> None:
    ids = [int(alert.entity_id) for alert in opened]
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        for step in db.session.scalars(select(CultureStep).where(CultureStep.id.in_(chunk))
                                        .order_by(CultureStep.id)):
            for listener in listeners:
                listener(step)


def expiring_dose_causes(now: datetime) -> list[Cause]:
    """Doses in stock whose expiry is within the warning window (or already past):
    ``ix_dose_status_expires``, one range per stock state; and thawed doses by their
    post-thaw expiry (``ix_dose_post_thaw_expires``), which is the one that counts when
    earlier (SPEC §2)."""
    tz = facility_tz()
    horizon = now + timedelta(hours=current_app.config["DOSE_EXPIRY_WARNING_HOURS"])
    db.session.flush()
    columns = (Dose.id, Dose.code, Dose.expires_at, Dose.post_thaw_expires_at, Batch.id,
               Batch.batch_number)
    connection = db.session.connection()  # Core rows: no ORM row processing
    rows = list(connection.execute(
        select(*columns).join(Batch, Batch.id == Dose.batch_id)
        .where(Dose.status.in_(IN_STOCK), Dose.expires_at <= horizon)))
    rows += connection.execute(
        select(*columns).join(Batch, Batch.id == Dose.batch_id)
        .where(Dose.post_thaw_expires_at <= horizon, Dose.expires_at > horizon,
               Dose.status.in_(IN_STOCK)))

    def summary(code: str, expires_at: datetime, batch_number: str,
                thawed: bool) -> Callable[[], str]:
        return lambda: (f"Dose {code} of batch {batch_number} "
                        f"{'expired' if expires_at <= now else 'expires'} "
                        f"{_local(expires_at, tz)}" + (" (post-thaw)" if thawed else ""))

    causes = []
    for dose_id, code, expires_at, post_thaw, batch_id, batch_number in rows:
        thawed = post_thaw is not None and post_thaw < expires_at
        effective = post_thaw if post_thaw is not None and thawed else expires_at
        causes.append(Cause("dose", str(dose_id), summary(code, effective, batch_number,
                                                          thawed), batch_id=batch_id))
    return causes


def expiring_doses(now: datetime) -> dict[str, int]:
    """Sweep job: open/resolve ``dose_expiring`` alerts."""
    opened, resolved = reconcile(BatchAlert.dose_expiring, expiring_dose_causes(now))
    return {"opened": len(opened), "resolved": len(resolved)}


def _step_url(step_id: str) -> str | None:
    batch_id = db.session.scalar(select(CultureStep.batch_id)
                                 .where(CultureStep.id == int(step_id)))
    return url_for("batches.batch_page", batch_id=batch_id) if batch_id else None


def init_app(app: Flask) -> None:
    """Register the sweep jobs and the links alerts use to reach a batch, step or dose."""
    from lims.extension_points import add_link, add_sweep_task

    add_sweep_task(app, "overdue_steps", overdue_steps, order=10)
    add_sweep_task(app, "expiring_doses", expiring_doses, order=20)
    add_link(app, "batch", lambda batch_id: url_for("batches.batch_page",
                                                    batch_id=int(batch_id)))
    add_link(app, "culture_step", _step_url)
    add_link(app, "dose", lambda dose_id: url_for("batches.dose_page", dose_id=int(dose_id)))
