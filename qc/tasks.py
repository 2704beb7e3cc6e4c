"""Scheduled QC job (SPEC §4): ``qc_pending`` alerts for release tests not resulted in time.

A release test is due ``QC_TURNAROUND_HOURS[test]`` hours (``default`` for tests not
listed) after the batch's doses were formulated — the point at which QC samples
are taken. One alert per batch lists every test still without a result; it
resolves when they are all resulted or the batch leaves ``qc_review``. The
query reads only batches in ``qc_review`` (indexed by status), not the whole
database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from batches.lifecycle import BatchStatus
from batches.models import Batch, Dose
from lims.alerts.services import Cause, reconcile
from lims.db import db
from qc.alerts import QcAlert
from qc.models import Timing
from qc.results import counting_results
from qc.specifications import spec_for_batch


def _due_hours(test: str) -> float:
    turnaround = current_app.config["QC_TURNAROUND_HOURS"]
    return float(turnaround.get(test, turnaround["default"]))


def missing_release_results(batch: Batch, formulated_at: datetime, now: datetime) -> list[str]:
    """Release tests of the batch's spec still without a result past their turnaround
    (``follow_up`` tests are resulted after release: not pending here)."""
    spec = spec_for_batch(batch)
    if spec is None:
        return []
    resulted = counting_results(batch)
    return [t.test for t in spec.tests if t.test not in resulted and t.timing == Timing.release
            and formulated_at + timedelta(hours=_due_hours(t.test)) < now]


def qc_pending_causes(now: datetime) -> list[Cause]:
    rows = db.session.execute(
        select(Batch, func.min(Dose.formulated_at)).join(Dose, Dose.batch_id == Batch.id)
        .where(Batch.status == BatchStatus.qc_review).group_by(Batch.id))
    causes = []
    for batch, formulated_at in rows:
        missing = missing_release_results(batch, formulated_at, now)
        if missing:
            causes.append(Cause("batch", str(batch.id),
                                f"QC results overdue for {batch.batch_number}: "
                                + ", ".join(missing), batch_id=batch.id))
    return causes


def qc_pending(now: datetime) -> dict:
    """Sweep job: open/resolve ``qc_pending`` alerts."""
    opened, resolved = reconcile(QcAlert.qc_pending, qc_pending_causes(now))
    return {"opened": len(opened), "resolved": len(resolved)}
