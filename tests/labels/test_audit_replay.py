"""``flask lims audit-verify --replay`` over whole batch records (SPEC §8): every GMP row
written by the application matches the trail rebuilt from its entries, and a value
changed in SQL behind the application is named (table, id, field, both values).

``LIMS_REPLAY_BATCHES=50`` makes the first test build that many released batches and
print how long ``audit-verify`` and ``--replay`` take (the default keeps it fast)."""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from tests.batches.dose_helpers import custody, dose_json
from tests.fixtures.database import tamper
from tests.fixtures.users import TEST_PASSWORD

BATCHES = int(os.environ.get("LIMS_REPLAY_BATCHES", "1"))


def _released(qlab) -> dict:
    """A released MSC batch with a corrected step and a custody handoff."""
    batch = qlab.ready()
    steps = qlab.client.get(f"/api/v1/batches/{batch['id']}/steps", headers=qlab.tech).json
    harvest = next(s for s in steps if s["type"] == "harvest")
    qlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=qlab.tech,
                      json={"viability_pct": 93.5, "reason": "typo"})
    qlab.release(batch)
    doses = qlab.client.get(f"/api/v1/batches/{batch['id']}/doses", headers=qlab.tech).json
    custody(qlab, dose_json(qlab, doses[0]["id"]), "retrieved", location="LN2 tank 2",
            temperature_c=-190.0)
    return batch


def _rejected(qlab) -> dict:
    batch = qlab.in_review()
    qlab.post(f"/batches/{batch['id']}/reject", {"password": TEST_PASSWORD,
                                                 "reason": "mycoplasma positive"},
              headers=qlab.signer, status=200)
    return batch


def _replay(runner):
    return runner.invoke(args=["lims", "audit-verify", "--replay"])


def _rows(app) -> int:
    from lims.audit.replay import model_tables
    from lims.db import db

    with app.app_context():
        return sum(db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.table(spec.name))) for spec in model_tables())


def test_replay_agrees_with_whole_batch_records(app, qlab, runner):
    for _ in range(BATCHES):
        _released(qlab)
    _rejected(qlab)
    assert runner.invoke(args=["lims", "sweep"]).exit_code == 0
    started = time.perf_counter()
    verified = runner.invoke(args=["lims", "audit-verify"])
    verify_seconds = time.perf_counter() - started
    assert verified.exit_code == 0, verified.output
    started = time.perf_counter()
    result = _replay(runner)
    replay_seconds = time.perf_counter() - started - verify_seconds
    assert result.exit_code == 0, result.output
    if BATCHES > 1:
        print(f"\n{_rows(app)} GMP rows: {verified.output.strip()} / {result.output.strip()}"
              f" (verify {verify_seconds:.2f} s, replay {replay_seconds:.2f} s)")


@pytest.mark.parametrize("edit, expected", [
    ("UPDATE qc_result SET value = 0.01 WHERE test = 'endotoxin' AND batch_id = {batch}",
     "field value is 0.01 in the table but 0.1 in the trail"),
    ("UPDATE batch SET status = 'released', release_signature_id = (SELECT "
     "release_signature_id FROM batch WHERE id = {batch}) WHERE id = {rejected}",
     "batch {rejected}: field status is 'released' in the table but 'rejected' in the trail"),
    ("UPDATE signature SET printed_name = 'Someone Else' WHERE meaning = 'approval'",
     "field printed_name is 'Someone Else' in the table"),
    ("UPDATE custody_event SET temperature_c = -80.0 WHERE temperature_c = -190.0",
     "field temperature_c is -80.0 in the table but -190.0 in the trail"),
    ("UPDATE culture_step SET viability_pct = 99.0 WHERE viability_pct = 93.5",
     "field viability_pct is 99.0 in the table but 93.5 in the trail"),
], ids=["qc-value", "batch-status", "signature-name", "custody-temperature", "step-value"])
def test_replay_names_a_batch_record_value_changed_in_sql(app, qlab, runner, edit, expected):
    batch, rejected = _released(qlab), _rejected(qlab)
    ids = {"batch": batch["id"], "rejected": rejected["id"]}
    tamper(app, edit.format(**ids))
    assert runner.invoke(args=["lims", "audit-verify"]).exit_code == 0  # the chain is intact
    result = _replay(runner)
    assert result.exit_code == 1, result.output
    assert expected.format(**ids) in result.output, result.output
