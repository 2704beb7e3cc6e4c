"""QC's part of the sweep (SPEC §4): deviations for overdue steps, ``qc_pending`` alerts."""

from __future__ import annotations

from sqlalchemy import select

from lims.alerts.models import Alert
from lims.db import db
from qc.models import Deviation


def _sweep(runner) -> str:
    result = runner.invoke(args=["lims", "sweep"])
    assert result.exit_code == 0, result.output
    return result.output


def _open(app, kind):
    with app.app_context():
        return [(a.entity_type, a.entity_id, a.summary) for a in db.session.scalars(
            select(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None)))]


def test_an_overdue_step_opens_one_deviation_however_many_sweeps(app, runner, qlab, clock):
    batch = qlab.batch("MSC")
    qlab.step(batch, "seeding")
    clock.advance(hours=85)  # media change due at 72 h, grace 12 h
    for _ in range(3):
        _sweep(runner)
    with app.app_context():
        deviations = list(db.session.scalars(select(Deviation).where(
            Deviation.batch_id == batch["id"])))
    assert len(deviations) == 1
    assert deviations[0].kind == "overdue_step" and "overdue" in deviations[0].description
    assert deviations[0].opened_by_id is None, "opened by the scheduler"


def test_qc_pending_opens_after_the_turnaround_and_resolves_when_resulted(
        app, runner, qlab, clock, api_headers):
    batch = qlab.in_review("MSC")
    clock.advance(hours=47)
    _sweep(runner)
    assert _open(app, "qc_pending") == []
    clock.advance(hours=2)  # 49 h: every test but sterility (360 h) and mycoplasma (72 h)
    _sweep(runner)
    [(entity_type, entity_id, summary)] = _open(app, "qc_pending")
    assert (entity_type, entity_id) == ("batch", str(batch["id"]))
    assert "endotoxin" in summary and "sterility" not in summary
    qlab.tech = api_headers("technician")  # tokens live 8 hours; the clock moved on
    qlab.reviewer = api_headers("technician")
    qlab.all_results(batch, "MSC", skip=("sterility", "mycoplasma"), review=False)
    _sweep(runner)
    assert _open(app, "qc_pending") == []
    clock.advance(hours=30)  # mycoplasma now late too
    _sweep(runner)
    [(_t, _i, summary)] = _open(app, "qc_pending")
    assert "mycoplasma" in summary


def test_qc_pending_turnaround_is_configurable(app, runner, qlab, clock):
    app.config["QC_TURNAROUND_HOURS"] = {"default": 1}
    qlab.in_review("NK")
    clock.advance(hours=2)
    _sweep(runner)
    [(_t, _i, summary)] = _open(app, "qc_pending")
    assert "sterility" in summary and "cd3" in summary
