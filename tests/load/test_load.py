"""Concurrency and crash tests against a real server (SPEC §8, §9).

On PostgreSQL (``LIMS_TEST_DATABASE_URL`` set): gunicorn with 4 sync workers on a fresh
database of its own. On SQLite (the default run): gunicorn with one worker and 8
threads, the embedded deployment. 16 client threads run the mix of
:mod:`tests.load.mix` for ``LIMS_LOAD_SECONDS`` (default 6 s); the crash variant
SIGKILLs a worker mid-load. Meanwhile ``flask lims sweep`` runs again and again (at most
``SWEEPS`` times, within the load's time) on batches with overdue steps. Then every check
of :mod:`tests.load.checks` must hold, every sweep must have exited 0, and ``flask lims
audit-verify --replay`` must exit 0 (the chain matches the sweeps' signed checkpoints and
every row matches the trail).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lims.config import database_uri
from tests.fixtures.database import PG_URL, migrate_database, pg_admin_url, settings_for
from tests.fixtures.users import TEST_PASSWORD
from tests.load.checks import CHECKS
from tests.load.harness import ROOT, Api, Server, issue_token, run_load, server_env
from tests.load.mix import MIX

pytestmark = [pytest.mark.load, pytest.mark.slow]

SECONDS = float(os.environ.get("LIMS_LOAD_SECONDS", "6"))
CLIENTS = 16
TECHNICIANS = 4
SWEEPS = 6
RELEASED_DOSES = 8
NK_PASSING = [
    {"test": "sterility", "outcome": "negative"}, {"test": "mycoplasma", "outcome": "negative"},
    {"test": "endotoxin", "value": 0.1, "unit": "EU/mL"},
    {"test": "viability", "value": 91.0, "unit": "%"},
    {"test": "cd56_cd3neg", "value": 85.0, "unit": "%"}, {"test": "cd3", "value": 1.5, "unit": "%"},
]


@pytest.fixture
def load_database(tmp_path):
    """A fresh, migrated database with technician accounts; dropped afterwards."""
    if PG_URL:
        admin_url = pg_admin_url(PG_URL)
        name = f"lims_load_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = admin_url.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'load.sqlite3'}"
    try:
        migrate_database(url)
        _create_technicians(url)
        yield url
    finally:
        if PG_URL:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def _create_technicians(url: str) -> None:
    from lims import create_app
    from lims.auth.services import create_user
    from lims.db import db

    app = create_app(settings_for(url))
    with app.app_context():
        for n in range(TECHNICIANS):
            create_user(f"loadtech{n}", f"Load Tech {n}", "technician", TEST_PASSWORD,
                        permanent=True)
        create_user("loadqa", "Load QA", "qa", TEST_PASSWORD, permanent=True)
        db.session.commit()
        db.engine.dispose()


@pytest.fixture
def server(load_database, tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    env = server_env(load_database, instance)
    if PG_URL:
        gunicorn = Server(env, tmp_path / "gunicorn.log", workers=4)
    else:
        gunicorn = Server(env, tmp_path / "gunicorn.log", workers=1, threads=8)
    gunicorn.env = env
    try:
        yield gunicorn
    finally:
        gunicorn.stop()


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()


def _prepare_lab(base_url: str, tokens: list[str], qa_token: str) -> dict:
    """Cleared patients; MSC batches in culture (seeded) for the steps; a batch seeded
    days ago whose steps are overdue, for the sweeps; and a released NK batch (real QC
    results, reviewed by a second technician, released by QA) whose doses move."""
    api, reviewer, qa = (Api(base_url, t) for t in (tokens[0], tokens[1], qa_token))
    patients, batches = [], []

    def batch_for(patient: dict, product: str = "MSC") -> dict:
        collection = _ok(api.post("/collections", {
            "subject_id": patient["id"], "source": "bone_marrow", "volume_ml": 20,
            "collected_at": (datetime.now(UTC) - timedelta(days=12)).isoformat()}))
        return _ok(api.post("/batches", {"collection_id": collection["id"], "product": product,
                                         "origin": "autologous",
                                         "recipient_id": patient["id"]}))

    def seed(batch: dict, hours_ago: float) -> None:
        _ok(api.post(f"/batches/{batch['id']}/steps", {
            "type": "seeding",
            "performed_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()}))

    for n in range(3):
        patient = _ok(api.post("/subjects", {"code": f"LOAD-{n}", "kind": "patient",
                                             "initials": "LT", "date_of_birth": "1975-06-07"}))
        _ok(api.post(f"/subjects/{patient['id']}/recipient-screening",
                     {"contraindications": []}), 200)
        patients.append(patient["id"])
        for _ in range(2):
            batch = batch_for(patient)
            seed(batch, 2)
            batches.append(batch["id"])
    for _ in range(2):  # overdue: the sweeps open alerts and deviations for these
        seed(batch_for(patient), 24 * 10)

    released = batch_for(patient, "NK")
    seed(released, 1)
    _ok(api.post(f"/batches/{released['id']}/steps",
                 {"type": "harvest", "cell_count": 400_000_000, "viability_pct": 92.0}))
    doses = _ok(api.post(f"/batches/{released['id']}/doses", {
        "count": RELEASED_DOSES, "cells_per_dose": 10_000_000, "volume_ml": 5.0}))
    for body in NK_PASSING:
        result = _ok(api.post(f"/batches/{released['id']}/qc-results", body))
        _ok(reviewer.post(f"/qc-results/{result['id']}/review", {}), 200)
    _ok(qa.post(f"/batches/{released['id']}/release",  # user id: SPEC §8 first signing
                {"password": TEST_PASSWORD, "meaning": "approval", "username": "loadqa"}), 200)
    doses = [{"id": d["id"], "matrix": _ok(api.get(f"/doses/{d['id']}"), 200)[
        "barcodes"]["matrix"]} for d in doses]
    for each in (api, reviewer, qa):
        each.close()
    return {"patients": patients, "batches": batches, "doses": doses}


class SweepLoop:
    """``flask lims sweep`` run again and again beside the load, by two loops at once (so
    sweeps also race each other, as cron and a stray manual run would): at most ``SWEEPS``
    runs in all, none started after ``seconds``; each run's exit status and output kept."""

    def __init__(self, env: dict[str, str], seconds: float, loops: int = 2) -> None:
        self.env, self.seconds = env, seconds
        self.runs: list[subprocess.CompletedProcess] = []
        self.threads = [threading.Thread(target=self._run, args=(SWEEPS // loops,),
                                         name=f"sweep-loop-{n}", daemon=True)
                        for n in range(loops)]

    def _run(self, count: int) -> None:
        deadline = time.monotonic() + self.seconds
        for _ in range(count):
            if time.monotonic() >= deadline:
                break
            self.runs.append(subprocess.run(
                [sys.executable, "-m", "flask", "--app", "wsgi", "lims", "sweep"], cwd=ROOT,
                env=self.env, capture_output=True, text=True, timeout=60))

    def __enter__(self) -> SweepLoop:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for thread in self.threads:
            thread.join(timeout=self.seconds + 90)
        assert not any(t.is_alive() for t in self.threads), "a sweep loop did not finish"

    def failures(self) -> list[str]:
        return [f"sweep exited {run.returncode}: {run.stdout[-500:]}{run.stderr[-1500:]}"
                for run in self.runs if run.returncode != 0]


def _verify(server, ledger) -> None:
    problems = []
    engine = sa.create_engine(database_uri(server.env["LIMS_DATABASE_URL"], "."))
    try:
        with engine.connect() as conn:
            for check in CHECKS:
                try:
                    check(conn, ledger)
                except AssertionError as failure:
                    problems.append(f"{check.__name__}: {failure}")
    finally:
        engine.dispose()
    verified = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "lims",
                               "audit-verify", "--replay"], cwd=ROOT, env=server.env,
                              capture_output=True, text=True, timeout=120)
    if verified.returncode != 0:
        problems.append(f"audit-verify exited {verified.returncode}: "
                        f"{verified.stdout}{verified.stderr}")
    assert not problems, "\n".join(problems) + f"\n{ledger.summary()}\n{server.tail()}"


@pytest.mark.parametrize("crash", [False, True], ids=["steady", "worker-killed"])
def test_no_acknowledged_write_is_lost_or_doubled(server, crash):
    tokens = [issue_token(server.url, f"loadtech{n}", TEST_PASSWORD)
              for n in range(TECHNICIANS)]
    lab = _prepare_lab(server.url, tokens, issue_token(server.url, "loadqa", TEST_PASSWORD))
    killed: list[int] = []
    with SweepLoop(server.env, SECONDS) as sweeps:
        ledger = run_load(server.url, tokens, MIX, lab, threads=CLIENTS, seconds=SECONDS,
                          during=(lambda: killed.append(server.kill_a_worker())) if crash
                          else None)
    server.stop()
    assert sweeps.runs and not sweeps.failures(), "\n".join(sweeps.failures())
    assert any("overdue" in run.stdout for run in sweeps.runs), [r.stdout for r in sweeps.runs]

    assert not ledger.server_errors, \
        f"{len(ledger.server_errors)} answers were 5xx: {ledger.server_errors[:3]}\n" \
        f"{ledger.summary()}\n{server.tail(80)}"
    for kind in ("collection", "culture_step", "custody_event"):
        assert len(ledger.acknowledged[kind]) >= 5, f"too little load: {ledger.summary()}"
    if crash:
        assert killed, "no worker was killed"
    print(f"\n{'killed worker ' + str(killed) + '; ' if killed else ''}{ledger.summary()}; "
          f"{len(sweeps.runs)} sweeps")
    _verify(server, ledger)
