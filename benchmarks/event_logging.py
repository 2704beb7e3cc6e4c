"""Benchmark (issue 7, item 1): event logging through the full stack against a bare
Flask insert, both under gunicorn on the same PostgreSQL database.

    .venv/bin/python benchmarks/event_logging.py                  # 16 clients, 15 s a side
    .venv/bin/python benchmarks/event_logging.py --seconds 5

A scratch database is migrated; a technician and ``--batches`` MSC batches in
culture are made through the API (subjects, screening, collections, batches,
seeding). Then, for ``--seconds`` each, ``--clients`` threads post:

* full stack: ``POST /api/v1/batches/{id}/steps`` (a media change: bearer token,
  role check, validation, culture rules, the step row and its hash-chained audit
  entry) to ``gunicorn wsgi:app`` (``--workers`` sync workers, as tests/load);
* bare: ``POST /event`` of ``benchmarks/bare_app.py`` (one INSERT, same workers,
  same database).

Loopback only. Targets: full-stack requests/s ≥ 0.5 × bare, full-stack p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from common import DEFAULT_URL, ROOT, Result, create_postgres_database, make_app, p95, print_results

sys.path.insert(0, str(ROOT))
from tests.load.harness import Api, Server, free_port, issue_token, server_env  # noqa: E402


def prepare(url: str, batches: int) -> None:
    from flask_migrate import upgrade

    from lims.auth.services import create_user
    from lims.db import db

    app = make_app(url)
    with app.app_context():
        upgrade()
        create_user("benchtech", "Bench Tech", "technician", "bench-pass-1", permanent=True)
        db.session.execute(db.text("CREATE TABLE bench_event (id serial PRIMARY KEY, "
                                   "batch_id integer, notes text, "
                                   "created_at timestamptz DEFAULT now())"))
        db.session.commit()
        db.engine.dispose()


def make_batches(base_url: str, token: str, count: int) -> list[int]:
    api = Api(base_url, token)
    ids = []
    for n in range(count):
        patient = api.post("/subjects", {"code": f"BENCH-{n}", "kind": "patient",
                                         "initials": "BT", "date_of_birth": "1975-06-07"}).json()
        api.post(f"/subjects/{patient['id']}/recipient-screening", {"contraindications": []})
        collection = api.post("/collections", {
            "subject_id": patient["id"], "source": "bone_marrow", "volume_ml": 20,
            "collected_at": (datetime.now(UTC) - timedelta(days=2)).isoformat()}).json()
        batch = api.post("/batches", {"collection_id": collection["id"], "product": "MSC",
                                      "origin": "autologous",
                                      "recipient_id": patient["id"]}).json()
        seeded = api.post(f"/batches/{batch['id']}/steps", {
            "type": "seeding",
            "performed_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat()})
        assert seeded.status_code == 201, seeded.text
        ids.append(batch["id"])
    api.close()
    return ids


def load(post, clients: int, seconds: float) -> tuple[float, list[float], int]:
    """(requests/s, latencies, errors) of ``clients`` threads calling ``post(n, i)``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(n: int) -> None:
        session = requests.Session()
        barrier.wait()
        i = 0
        while time.monotonic() < deadline[0]:
            i += 1
            start = time.perf_counter()
            ok = post(session, n, i)
            latencies[n].append(time.perf_counter() - start)
            errors[n] += not ok
        session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    start = time.monotonic()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    flat = [x for per in latencies for x in per]
    return len(flat) / elapsed, flat, sum(errors)


def run(args) -> list[Result]:
    url, drop = create_postgres_database(args.url)
    workdir = Path(tempfile.mkdtemp(prefix="lims_bench_"))
    servers = []
    try:
        prepare(url, args.batches)
        env = server_env(url, workdir)
        full = Server(env, workdir / "gunicorn.log", workers=args.workers)
        servers.append(full)
        token = issue_token(full.url, "benchtech", "bench-pass-1")
        batch_ids = make_batches(full.url, token, args.batches)
        headers = {"Authorization": f"Bearer {token}"}

        def post_step(session, n, i):
            response = session.post(
                f"{full.url}/api/v1/batches/{batch_ids[n % len(batch_ids)]}/steps",
                json={"type": "media_change", "confluence_pct": 50, "notes": f"b{n}-{i}"},
                headers=headers, timeout=30)
            return response.status_code == 201

        post_step(requests, 0, 0)
        full_rate, full_lat, full_err = load(post_step, args.clients, args.seconds)
        full.stop()
        servers.remove(full)

        bare_env = {**env, "BARE_DATABASE_URL": url.replace("+psycopg", "")}
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT / "benchmarks"), "--bind",
             f"127.0.0.1:{port}", "--workers", str(args.workers), "--log-level", "warning",
             "bare_app:app"], cwd=ROOT, env=bare_env)
        bare_url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if requests.get(f"{bare_url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)

        def post_bare(session, n, i):
            response = session.post(f"{bare_url}/event", json={"batch_id": n, "notes": f"{i}"},
                                    timeout=30)
            return response.status_code == 201

        try:
            post_bare(requests, 0, 0)
            bare_rate, bare_lat, bare_err = load(post_bare, args.clients, args.seconds)
        finally:
            bare.terminate()
            bare.wait(timeout=15)
    finally:
        for server in servers:
            server.stop()
        drop()
    full_p95, bare_p95 = p95(full_lat) * 1000, p95(bare_lat) * 1000
    return [
        Result(f"event logging req/s, {args.clients} clients", full_rate, bare_rate, "/s",
               full_rate / bare_rate, "≥ 0.5", full_rate / bare_rate >= 0.5,
               f"culture steps; {args.workers} workers; errors {full_err} / bare {bare_err}"),
        Result("event logging p95", full_p95, bare_p95, "ms", full_p95 / bare_p95, "< 50 ms",
               full_p95 < 50, f"median {statistics.median(full_lat) * 1000:.1f} ms / bare "
                              f"{statistics.median(bare_lat) * 1000:.1f} ms"),
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--batches", type=int, default=16)
    return p


def main(argv: list[str] | None = None) -> int:
    print_results("Event logging through gunicorn on PostgreSQL", run(parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
