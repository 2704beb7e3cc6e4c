"""Several sweeps at once find exactly one alert per overdue step, and no errors (SPEC §4).

The process tests need PostgreSQL (``LIMS_TEST_DATABASE_URL``): separate OS
processes, each with its own connections, started together behind a barrier. The
threaded test runs on SQLite too. Steps are made overdue in real time (seeded
90 hours ago), since a patched clock does not reach other processes.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.alerts.models import Alert
from lims.audit import verify
from lims.db import db
from tests.fixtures.database import PG_URL
from tests.fixtures.lab import ago

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 6
OVERDUE = 5

postgres_only = pytest.mark.skipif(not PG_URL, reason="needs LIMS_TEST_DATABASE_URL (PostgreSQL)")


@pytest.fixture
def overdue_steps(lab) -> list[int]:
    """OVERDUE MSC batches seeded 90 h ago: each media change (due 72 h + 12 h grace) is late."""
    ids = []
    for _ in range(OVERDUE):
        batch = lab.batch("MSC")
        lab.step(batch, "seeding", performed_at=ago(hours=90))
        steps = lab.client.get(f"/api/v1/batches/{batch['id']}/steps", headers=lab.tech).json
        ids += [s["id"] for s in steps if s["status"] == "overdue"]
    assert len(ids) == OVERDUE
    return ids


def assert_one_open_alert_per_step(app, step_ids: list[int]) -> None:
    with app.app_context():
        rows = db.session.execute(
            select(Alert.entity_id, func.count()).where(
                Alert.kind == "overdue_step", Alert.resolved_at.is_(None))
            .group_by(Alert.entity_id)).all()
        assert dict(rows) == {str(i): 1 for i in step_ids}
        assert db.session.scalar(select(func.count()).select_from(Alert)) == len(step_ids)
        result = verify()
        assert result.intact, result.broken


def _sweep_in_process(url: str, key_file: str, barrier, results, without_lock: bool) -> None:
    """Child process: its own app and connections (and the deployment's one audit signing
    key); wait for the others, then sweep once."""
    from lims import create_app, scheduler

    if without_lock:  # the database's unique index alone must keep it one alert per step
        scheduler._take_sweep_lock = lambda: True
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test-secret",
                      "AUDIT_KEY_FILE": key_file})
    with app.app_context():
        db.session.execute(select(1))  # connect before the barrier
        db.session.rollback()
        barrier.wait(timeout=60)
        report = scheduler.run_sweep(app)
    results.put(report)


def _run_processes(app, database_url: str, without_lock: bool) -> list[dict]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    key_file = app.config["AUDIT_KEY_FILE"]
    processes = [context.Process(target=_sweep_in_process,
                                 args=(database_url, key_file, barrier, results, without_lock))
                 for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    return reports


@postgres_only
@pytest.mark.slow
def test_sweeps_in_several_processes_open_one_alert_per_overdue_step(app, database_url,
                                                                     overdue_steps):
    reports = _run_processes(app, database_url, without_lock=False)
    worked = [r for r in reports if "skipped" not in r]
    assert worked, reports
    assert sum(r["overdue_steps"]["opened"] for r in worked) == OVERDUE
    assert_one_open_alert_per_step(app, overdue_steps)


@postgres_only
@pytest.mark.slow
def test_without_the_lock_the_database_still_allows_one_open_alert(app, database_url,
                                                                   overdue_steps):
    reports = _run_processes(app, database_url, without_lock=True)
    assert all("skipped" not in r for r in reports)
    assert_one_open_alert_per_step(app, overdue_steps)


@postgres_only
@pytest.mark.slow
def test_lims_sweep_commands_started_together(app, database_url, overdue_steps, tmp_path):
    env = {**os.environ, "LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path),
           "LIMS_SECRET_KEY": "test-secret", "LIMS_AUDIT_KEY_FILE": app.config["AUDIT_KEY_FILE"]}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "lims"]
    sweeps = [subprocess.Popen([*command, "sweep"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
    outputs = [(p.wait(timeout=120), *p.communicate()) for p in sweeps]
    assert [code for code, _out, _err in outputs] == [0] * PROCESSES, outputs
    assert not any("Traceback" in err for _code, _out, err in outputs), outputs
    assert_one_open_alert_per_step(app, overdue_steps)
    verified = subprocess.run([*command, "audit-verify"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout


def test_sweeps_in_several_threads_open_one_alert_per_overdue_step(app, overdue_steps):
    from lims.scheduler import run_sweep

    barrier = threading.Barrier(PROCESSES)
    reports, errors = [], []

    def sweep() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                reports.append(run_sweep(app))
        except Exception as error:  # noqa: BLE001 — collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=sweep) for _ in range(PROCESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(r["overdue_steps"]["opened"] for r in reports if "skipped" not in r) == OVERDUE
    assert_one_open_alert_per_step(app, overdue_steps)
