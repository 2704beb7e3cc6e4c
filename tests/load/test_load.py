"""Concurrency and crash tests against a real server (SPEC §8, §9).

On PostgreSQL (``LIMS_TEST_DATABASE_URL`` set): gunicorn with 4 sync workers on a fresh
database of its own. On SQLite (the default run): gunicorn with one worker and 8
threads, the embedded deployment. 16 client threads run the mix of
:mod:`tests.load.mix` for ``LIMS_LOAD_SECONDS`` (default 6 s); the crash variant
SIGKILLs a worker mid-load. Then every check of :mod:`tests.load.checks` must hold and
``flask lims audit-verify`` must exit 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lims.config import database_uri
from tests.conftest import PG_URL, TEST_PASSWORD, _migrate, _pg_admin_url, _test_config
from tests.load.checks import CHECKS
from tests.load.harness import ROOT, Api, Server, issue_token, run_load, server_env
from tests.load.mix import MIX

pytestmark = [pytest.mark.load, pytest.mark.slow]

SECONDS = float(os.environ.get("LIMS_LOAD_SECONDS", "6"))
CLIENTS = 16
TECHNICIANS = 4


@pytest.fixture
def load_database(tmp_path):
    """A fresh, migrated database with technician accounts; dropped afterwards."""
    if PG_URL:
        admin_url = _pg_admin_url(PG_URL)
        name = f"lims_load_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = admin_url.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'load.sqlite3'}"
    try:
        _migrate(url)
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

    app = create_app(_test_config(url))
    with app.app_context():
        for n in range(TECHNICIANS):
            create_user(f"loadtech{n}", f"Load Tech {n}", "technician", TEST_PASSWORD)
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


def _prepare_lab(base_url: str, token: str) -> dict:
    """Cleared patients, and MSC batches in culture (seeded) for the steps."""
    api = Api(base_url, token)
    patients, batches = [], []
    for n in range(3):
        patient = api.post("/subjects", {"code": f"LOAD-{n}", "kind": "patient",
                                         "initials": "LT", "date_of_birth": "1975-06-07"}).json()
        api.post(f"/subjects/{patient['id']}/recipient-screening", {"contraindications": []})
        patients.append(patient["id"])
        for _ in range(2):
            collection = api.post("/collections", {
                "subject_id": patient["id"], "source": "bone_marrow", "volume_ml": 20,
                "collected_at": (datetime.now(UTC) - timedelta(days=2)).isoformat()}).json()
            batch = api.post("/batches", {"collection_id": collection["id"], "product": "MSC",
                                          "origin": "autologous",
                                          "recipient_id": patient["id"]}).json()
            seeded = api.post(f"/batches/{batch['id']}/steps", {
                "type": "seeding", "performed_at": (datetime.now(UTC) - timedelta(
                    hours=2)).isoformat()})
            assert seeded.status_code == 201, seeded.text
            batches.append(batch["id"])
    api.close()
    return {"patients": patients, "batches": batches}


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
                               "audit-verify"], cwd=ROOT, env=server.env, capture_output=True,
                              text=True, timeout=120)
    if verified.returncode != 0:
        problems.append(f"audit-verify exited {verified.returncode}: "
                        f"{verified.stdout}{verified.stderr}")
    assert not problems, "\n".join(problems) + f"\n{ledger.summary()}\n{server.tail()}"


@pytest.mark.parametrize("crash", [False, True], ids=["steady", "worker-killed"])
def test_no_acknowledged_write_is_lost_or_doubled(server, crash):
    tokens = [issue_token(server.url, f"loadtech{n}", TEST_PASSWORD)
              for n in range(TECHNICIANS)]
    lab = _prepare_lab(server.url, tokens[0])
    killed: list[int] = []
    ledger = run_load(server.url, tokens, MIX, lab, threads=CLIENTS, seconds=SECONDS,
                      during=(lambda: killed.append(server.kill_a_worker())) if crash else None)
    server.stop()

    assert not ledger.server_errors, \
        f"{len(ledger.server_errors)} answers were 5xx: {ledger.server_errors[:3]}\n" \
        f"{ledger.summary()}\n{server.tail(80)}"
    for kind in ("collection", "culture_step"):
        assert len(ledger.acknowledged[kind]) >= 5, f"too little load: {ledger.summary()}"
    if crash:
        assert killed, "no worker was killed"
    print(f"\n{'killed worker ' + str(killed) + '; ' if killed else ''}{ledger.summary()}")
    _verify(server, ledger)
