"""Benchmark: the scheduler's sweep over a large data set, next to a bare SQL query.

Run on demand (not part of the test suite)::

    .venv/bin/python benchmarks/sweep.py                      # PostgreSQL, full size
    .venv/bin/python benchmarks/sweep.py --batches 10000      # smaller
    .venv/bin/python benchmarks/sweep.py --sqlite             # SQLite file in a temp dir

PostgreSQL: ``--url`` names a server database the role can connect to (default
``postgresql://postgres@127.0.0.1:5432/test``); the benchmark creates its own
database ``lims_bench_<random>`` there, migrates it, loads the data with COPY and
drops it at the end (``--keep`` keeps it).

Data: ``--batches`` batches (default 100 000) with ``--steps`` culture steps in all
(default 1 000 000, i.e. 10 per batch), ``--overdue`` of the steps (default 1 %)
pending and past due + grace; as many again pending but not yet due. Those batches
are in culture; the others are released, with ``--doses-per-batch`` doses each, of
which ``--expiring`` (default 0.5 %) are in stock and expire within the warning
window, the rest administered long ago or in stock with a far expiry.

It times (wall clock, warm cache, median of ``--repeat`` for the queries):

* the bare SQL ``SELECT`` of the overdue rows (DB-API cursor, fetch all);
* the sweep's own cause query (ORM columns + summaries);
* the first sweep (opens one alert per overdue step and expiring dose, audited);
* a second, idempotent sweep (changes nothing);

and prints a table with each one's ratio to the bare query.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

BARE_QUERY = (
    "SELECT s.id, s.type, s.due_at, s.grace_hours, b.id, b.batch_number "
    "FROM culture_step s JOIN batch b ON b.id = s.batch_id "
    "WHERE s.status = 'pending' AND s.overdue_at < {now} "
    "AND b.status IN ('in_culture', 'on_hold', 'registered')")
BARE_DOSE_QUERY = (
    "SELECT d.id, d.code, d.expires_at, b.id, b.batch_number "
    "FROM dose d JOIN batch b ON b.id = d.batch_id "
    "WHERE d.status IN ('quarantined', 'released', 'shipped', 'delivered') "
    "AND d.expires_at <= {now}")


# -- progress --------------------------------------------------------------------------


def progress(items: Iterable, total: int, label: str) -> Iterator:
    """tqdm when installed, else a plain bar on stderr."""
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(items, total=total, desc=label, unit="row", file=sys.stderr)
        return
    step = max(total // 50, 1)
    start = time.perf_counter()
    for n, item in enumerate(items, 1):
        if n % step == 0 or n == total:
            done = n * 40 // max(total, 1)
            sys.stderr.write(f"\r{label:<14} [{'#' * done}{'.' * (40 - done)}] {n:>9}/{total}"
                             f" {time.perf_counter() - start:6.1f}s")
            sys.stderr.flush()
        yield item
    sys.stderr.write("\n")


# -- the data set ----------------------------------------------------------------------


class Plan:
    def __init__(self, args: argparse.Namespace, now: datetime) -> None:
        self.now = now
        self.batches = args.batches
        self.steps_per_batch = max(args.steps // args.batches, 1)
        self.overdue = min(int(args.steps * args.overdue), args.batches // 2)
        self.active = 2 * self.overdue  # half overdue, half pending but not yet late
        self.doses_per_batch = args.doses_per_batch
        self.expiring = args.expiring
        self.user_id = 1
        self.signature_id = 1


def subjects(plan: Plan) -> Iterator[tuple]:
    for i in range(1, plan.batches + 1):
        yield (i, f"PT-{i:07d}", "patient", "AB", "1970-01-02", "cleared", None, plan.user_id,
               plan.now - timedelta(days=400))


def collections(plan: Plan) -> Iterator[tuple]:
    for i in range(1, plan.batches + 1):
        din = f"Z9999{25 + i // 1_000_000:02d}{i % 1_000_000:06d}"
        yield (i, i, "bone_marrow", plan.now - timedelta(days=300), "Dr Bench", 50.0, din, "0",
               f"CHZ9999{din[5:]}", plan.user_id, plan.now - timedelta(days=300))


def batches(plan: Plan) -> Iterator[tuple]:
    for i in range(1, plan.batches + 1):
        active = i <= plan.active
        yield (i, f"MSC-B-{i:07d}", i, 1, 1, "autologous", i,
               "in_culture" if active else "released", plan.user_id,
               plan.now - timedelta(days=300), None if active else plan.signature_id)


def steps(plan: Plan) -> Iterator[tuple]:
    step_id = 0
    for i in range(1, plan.batches + 1):
        start = plan.now - timedelta(days=60)
        done = plan.steps_per_batch - (1 if i <= plan.active else 0)
        for n in range(done):
            step_id += 1
            at = start + timedelta(hours=72 * n)
            yield (step_id, i, "seeding" if n == 0 else "media_change", "done",
                   None if n == 0 else at, None if n == 0 else 12,
                   None if n == 0 else at + timedelta(hours=12), at, plan.user_id, at,
                   False, False)
        if i <= plan.active:
            step_id += 1
            late = i <= plan.overdue
            due = plan.now - timedelta(hours=20 if late else -30)
            yield (step_id, i, "media_change", "pending", due, 12, due + timedelta(hours=12),
                   None, None, None, False, False)


def doses(plan: Plan, rng: random.Random) -> Iterator[tuple]:
    dose_id = 0
    for i in range(plan.active + 1, plan.batches + 1):
        for d in range(plan.doses_per_batch):
            dose_id += 1
            roll = rng.random()
            if roll < plan.expiring:
                status, expires = "released", plan.now + timedelta(hours=rng.uniform(1, 70))
            elif roll < 0.2:
                status, expires = "released", plan.now + timedelta(days=rng.uniform(30, 300))
            else:
                status, expires = "administered", plan.now - timedelta(days=rng.uniform(1, 300))
            division = "A" + "abcdefghijklmnopqrstuvwxyz"[d]
            yield (dose_id, i, f"Z9999{i:08d}-S9001-{division}", division, "1", "S9001",
                   20_000_000, 10.0, "cryobag", "-150 C", expires, status, plan.user_id,
                   plan.now - timedelta(days=200))


TABLES: list[tuple[str, str, Callable]] = [
    ("subject", "id, code, kind, initials, date_of_birth, recipient_status, donor_status, "
                "created_by_id, created_at", subjects),
    ("collection", "id, subject_id, source, collected_at, collected_by, volume_ml, din, "
                   "check_character, chain_of_identity, recorded_by_id, recorded_at",
     collections),
    ("batch", "id, batch_number, collection_id, product_id, template_id, origin, recipient_id, "
              "status, registered_by_id, registered_at, release_signature_id", batches),
    ("culture_step", "id, batch_id, type, status, due_at, grace_hours, overdue_at, "
                     "performed_at, performed_by_id, recorded_at, late_entry, corrected", steps),
]


def table_rows(plan: Plan, name: str, make: Callable) -> tuple[Iterator[tuple], int]:
    if name == "culture_step":
        total = plan.batches * plan.steps_per_batch
    else:
        total = plan.batches
    return make(plan), total


# -- databases -------------------------------------------------------------------------


def create_postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    from lims.config import database_uri

    admin_url = sa.make_url(database_uri(url, "."))
    name = f"lims_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def make_app(url: str):
    from lims import create_app

    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench",
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def prepare(app) -> None:
    """Schema (migrations), one user and one release signature, through the app."""
    from flask_migrate import upgrade

    from lims.audit import set_actor
    from lims.auth.models import Signature
    from lims.auth.services import create_user
    from lims.db import db

    upgrade()
    set_actor(None, "benchmark")
    user = create_user("bench", "Bench Mark", "qa", "bench-pass-1", permanent=True)
    db.session.flush()
    db.session.add(Signature(id=1, user_id=user.id, username="bench", printed_name="Bench Mark",
                             meaning="approval", signed_at=datetime.now(UTC),
                             entity_type="batch", entity_id="0", content_hash="0" * 64))
    db.session.commit()


def load_postgres(app, plan: Plan, rng: random.Random) -> None:
    from lims.db import db

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name, columns, make in [*TABLES, ("dose", DOSE_COLUMNS, None)]:
            if name == "dose":
                rows, total = doses(plan, rng), (plan.batches - plan.active) * plan.doses_per_batch
            else:
                rows, total = table_rows(plan, name, make)
            with cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in progress(rows, total, name):
                    copy.write_row(row)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                           f"(SELECT COALESCE(MAX(id), 1) FROM {name}))")
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def load_sqlite(app, plan: Plan, rng: random.Random) -> None:
    from lims.db import db

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        for name, columns, make in [*TABLES, ("dose", DOSE_COLUMNS, None)]:
            if name == "dose":
                rows, total = doses(plan, rng), (plan.batches - plan.active) * plan.doses_per_batch
            else:
                rows, total = table_rows(plan, name, make)
            marks = ", ".join("?" * len(columns.split(", ")))
            chunk: list[tuple] = []
            for row in progress(rows, total, name):
                chunk.append(tuple(_sqlite_value(v) for v in row))
                if len(chunk) == 10_000:
                    cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", chunk)
                    chunk = []
            if chunk:
                cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", chunk)
        cursor.execute("COMMIT")
        cursor.execute("ANALYZE")
    finally:
        raw.close()


DOSE_COLUMNS = ("id, batch_id, code, division, collection_type, description_code, cells, "
                "volume_ml, container, storage_temperature, expires_at, status, "
                "formulated_by_id, formulated_at")


# -- timing ----------------------------------------------------------------------------


def timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def bare_query(app, repeat: int, query: str = BARE_QUERY,
               ahead: timedelta = timedelta()) -> tuple[float, int]:
    from lims.db import db

    dialect = db.engine.dialect.name
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        now = datetime.now(UTC) + ahead
        if dialect == "postgresql":
            sql, params = query.format(now="%s"), (now,)
        else:
            sql, params = query.format(now="?"), (_sqlite_value(now),)
        times, count = [], 0
        for _ in range(repeat):
            seconds, rows = timed(lambda: cursor.execute(sql, params).fetchall())
            times.append(seconds)
            count = len(rows)
        raw.rollback()
        return statistics.median(times), count
    finally:
        raw.close()


def explain(app) -> str:
    from lims.db import db

    now = datetime.now(UTC)
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + BARE_QUERY.format(
                now="%(now)s"), {"now": now}).all()
            return "\n".join(r[0] for r in rows)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + BARE_QUERY.format(now="?"),
                                    (_sqlite_value(now),)).all()
        return "\n".join(r[-1] for r in rows)


def cause_query(app, repeat: int) -> tuple[float, int]:
    from batches.tasks import overdue_step_causes
    from lims.db import db

    times, count = [], 0
    for _ in range(repeat):
        seconds, causes = timed(lambda: overdue_step_causes(datetime.now(UTC)))
        times.append(seconds)
        count = len(causes)
        db.session.rollback()
    return statistics.median(times), count


def sweep(app) -> tuple[float, dict]:
    from lims.db import db
    from lims.scheduler import run_sweep

    seconds, report = timed(lambda: run_sweep(app))
    db.session.remove()
    return seconds, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get(
        "LIMS_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file instead")
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--steps", type=int, help="default: 10 per batch")
    parser.add_argument("--overdue", type=float, default=0.01, help="fraction of the steps")
    parser.add_argument("--doses-per-batch", type=int, default=2)
    parser.add_argument("--expiring", type=float, default=0.005, help="fraction of the doses")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args(argv)
    args.steps = args.steps or args.batches * 10

    workdir = tempfile.mkdtemp(prefix="lims_bench_")
    os.environ["LIMS_INSTANCE_PATH"] = workdir
    if args.sqlite:
        url, drop = f"sqlite:///{workdir}/bench.sqlite3", (lambda: None)
    else:
        url, drop = create_postgres_database(args.url)
    print(f"database: {url.split('@')[-1]}", file=sys.stderr)
    try:
        app = make_app(url)
        with app.app_context():
            plan = Plan(args, datetime.now(UTC))
            prepare(app)
            load_seconds, _ = timed(lambda: (load_sqlite if args.sqlite else load_postgres)(
                app, plan, random.Random(args.seed)))
            print(f"loaded in {load_seconds:.1f} s", file=sys.stderr)
            print(explain(app), file=sys.stderr)
            window = timedelta(hours=app.config["DOSE_EXPIRY_WARNING_HOURS"])
            bare, bare_rows = bare_query(app, args.repeat)
            bare_doses, dose_rows = bare_query(app, args.repeat, BARE_DOSE_QUERY, window)
            causes, cause_rows = cause_query(app, args.repeat)
            first, first_report = sweep(app)
            second, second_report = sweep(app)
            bare_after, _ = bare_query(app, args.repeat)
        report(args, plan, [
            ("bare SELECT of the overdue steps", bare, f"{bare_rows} rows"),
            ("bare SELECT of the expiring doses", bare_doses, f"{dose_rows} rows"),
            ("bare SELECTs together (= 1.0)", bare + bare_doses, ""),
            ("sweep's step cause query (ORM+summary)", causes, f"{cause_rows} causes"),
            ("first sweep (opens the alerts)", first, _short(first_report)),
            ("second sweep (idempotent)", second, _short(second_report)),
            ("bare SELECT of the steps, again", bare_after, ""),
        ], bare + bare_doses)
    finally:
        if args.keep:
            print(f"kept {url}", file=sys.stderr)
        else:
            drop()
    return 0


def _short(sweep_report: dict) -> str:
    return "; ".join(f"{name} {value}" for name, value in sweep_report.items())


LAST_REPORT: list[tuple[str, float, str]] = []
"""The rows of the last :func:`report` and the bare time last (for ``run_all.py``)."""


def report(args, plan: Plan, rows: list[tuple[str, float, str]], bare: float) -> None:
    LAST_REPORT[:] = [*rows, ("bare", bare, "")]
    engine = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"\n{engine}: {plan.batches} batches, {plan.batches * plan.steps_per_batch} steps, "
          f"{plan.overdue} overdue ({plan.overdue / (plan.batches * plan.steps_per_batch):.2%}), "
          f"{(plan.batches - plan.active) * plan.doses_per_batch} doses")
    print(f"{'what':<40} {'seconds':>9} {'x bare':>8}  notes")
    for what, seconds, notes in rows:
        print(f"{what:<40} {seconds:>9.3f} {seconds / bare:>8.1f}  {notes}")


if __name__ == "__main__":
    sys.exit(main())
