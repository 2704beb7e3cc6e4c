"""The background scheduler and its sweep (SPEC §4).

One sweep runs every registered sweep task (feature packages' ``tasks.py``) in
one transaction. It is safe when several processes sweep at once: on
PostgreSQL only the holder of a transaction-level advisory lock does the work
(the others skip the tick); on SQLite the write lock taken by ``BEGIN
IMMEDIATE`` serialises sweeps. The tasks themselves are idempotent, and the
database allows at most one open alert per (kind, entity).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from sqlalchemy import text

from lims import clock
from lims.audit import checkpoints, set_actor
from lims.db import db, transaction
from lims.extension_points import points

log = logging.getLogger(__name__)

#: Arbitrary constant identifying the sweep's advisory lock ("LIMSSWEP").
SWEEP_LOCK_KEY = 0x4C494D53_53574550 & 0x7FFFFFFFFFFFFFFF


def _take_sweep_lock() -> bool:
    if db.engine.dialect.name == "postgresql":
        return bool(db.session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                       {"key": SWEEP_LOCK_KEY}).scalar())
    db.session.execute(text("SELECT 1"))  # SQLite: BEGIN IMMEDIATE holds the write lock
    return True


def run_sweep(app: Flask | None = None) -> dict[str, Any]:
    """Run every sweep task once, then sign a checkpoint of the audit chain's head (SPEC
    §8), in one transaction; returns what each did."""
    set_actor(None, "scheduler")
    with transaction():
        if not _take_sweep_lock():
            return {"skipped": "another process is sweeping"}
        now = clock.utcnow()
        report: dict[str, Any] = {name: task(now)
                                  for _order, name, task in points(app).sweep_tasks}
        checkpoint = checkpoints.write_checkpoint()
        report["audit_checkpoint"] = (f"signed seq {checkpoint.seq}" if checkpoint
                                      else "head unchanged since the last checkpoint")
        return report


def _sweep_job(app: Flask) -> None:
    with app.app_context():
        try:
            report = run_sweep(app)
            log.info("sweep: %s", report)
        except Exception:  # a failed tick must not kill the scheduler; the next one retries
            log.exception("sweep failed")


def make_scheduler(app: Flask, background: bool):
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler_class = BackgroundScheduler if background else BlockingScheduler
    scheduler = scheduler_class(timezone="UTC")
    scheduler.add_job(_sweep_job, "interval", args=[app], id="sweep",
                      seconds=app.config["SWEEP_INTERVAL_SECONDS"], max_instances=1,
                      coalesce=True, next_run_time=clock.utcnow())
    return scheduler


def init_app(app: Flask) -> None:
    """Start the scheduler inside the web process when ``LIMS_SCHEDULER`` is true."""
    if app.config["SCHEDULER"] and not app.testing:
        scheduler = make_scheduler(app, background=True)
        scheduler.start()
        app.extensions["lims_scheduler"] = scheduler
