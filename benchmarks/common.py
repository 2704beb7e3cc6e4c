"""Shared pieces of the benchmarks: scratch PostgreSQL database, app, COPY loading of
released batches with doses, progress bar, timing and the printed table.

Not a benchmark itself; each ``benchmarks/<name>.py`` imports it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sweep import create_postgres_database, make_app, prepare, progress  # noqa: E402

DEFAULT_URL = os.environ.get("LIMS_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIN = "Z9999"
__all__ = ["DEFAULT_URL", "Result", "create_postgres_database", "make_app", "prepare",
           "progress", "scratch", "load_doses", "p95", "print_results", "timed"]


@dataclass
class Result:
    """One line of a benchmark's table: ``value`` against ``limit`` (the bare baseline
    measured in the same run); ``target`` says what the ratio must be."""

    name: str
    value: float
    limit: float
    unit: str
    ratio: float
    target: str
    met: bool
    notes: str = ""


def print_results(title: str, results: list[Result]) -> None:
    print(f"\n{title}", flush=True)
    print(f"{'benchmark':<34} {'value':>12} {'limit (bare)':>14} {'ratio':>7} {'target':>10}"
          f"  met  notes")
    for r in results:
        print(f"{r.name:<34} {r.value:>9.4g} {r.unit:<3}{r.limit:>10.4g} {r.unit:<3}"
              f"{r.ratio:>7.2f} {r.target:>10}  {'yes' if r.met else 'NO ':<4} {r.notes}")


def timed(run: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


class scratch:  # noqa: N801 (a context manager used like a function)
    """A scratch PostgreSQL database (created, migrated, dropped) with its app context."""

    def __init__(self, url: str = DEFAULT_URL, keep: bool = False) -> None:
        self.admin_url, self.keep = url, keep

    def __enter__(self):
        os.environ.setdefault("LIMS_INSTANCE_PATH", tempfile.mkdtemp(prefix="lims_bench_"))
        self.url, self._drop = create_postgres_database(self.admin_url)
        print(f"database: {self.url.split('@')[-1]}", file=sys.stderr)
        self.app = make_app(self.url)
        self._ctx = self.app.app_context()
        self._ctx.push()
        prepare(self.app)
        return self

    def __exit__(self, *exc) -> None:
        from lims.db import db

        db.session.remove()
        db.engine.dispose()
        self._ctx.pop()
        if self.keep:
            print(f"kept {self.url}", file=sys.stderr)
        else:
            self._drop()


# -- released batches with doses, by COPY ---------------------------------------------------


def din_of(i: int) -> str:
    return f"{FIN}{25 + i // 1_000_000:02d}{i % 1_000_000:06d}"


def dose_texts(i: int, division: str, expires: datetime) -> dict[str, str]:
    """The barcode texts of dose ``division`` of batch ``i`` (as the label encodes them)."""
    from batches import isbt128

    din = isbt128.din_barcode_text(din_of(i))
    product = isbt128.product_code_text("S9001", "1", division)
    expiry = isbt128.expiry_text(expires)
    return {"din": din, "product": product, "expiry": expiry,
            "matrix": isbt128.dose_matrix_text(din, product, expiry)}


def division_codes(n: int) -> list[str]:
    from batches import isbt128

    return isbt128.division_codes(n)


def _copy(cursor, table: str, columns: str, rows: Iterator[tuple], total: int) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in progress(rows, total, table):
            copy.write_row(row)
    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                   f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")


def load_doses(batches: int, doses_per_batch: int, now: datetime) -> None:
    """``batches`` released autologous MSC batches (subject, collection, batch) with
    ``doses_per_batch`` released doses each, loaded with COPY, then ANALYZE."""
    from batches import isbt128
    from lims.db import db

    expires = now + timedelta(days=200)
    divisions = division_codes(doses_per_batch) if doses_per_batch > 1 else ["00"]
    long_ago = now - timedelta(days=300)

    def subjects():
        for i in range(1, batches + 1):
            yield (i, f"PT-{i:07d}", "patient", "AB", "1970-01-02", "cleared", None, 1, long_ago)

    def collections():
        for i in range(1, batches + 1):
            din = din_of(i)
            yield (i, i, "bone_marrow", long_ago, "Dr Bench", 50.0, din,
                   isbt128.din_check_character(din), f"CH{din}", 1, long_ago)

    def batch_rows():
        for i in range(1, batches + 1):
            yield (i, f"MSC-B-{i:07d}", i, 1, 1, "autologous", i, "released", 1, long_ago, 1)

    def doses():
        dose_id = 0
        for i in range(1, batches + 1):
            din = din_of(i)
            for division in divisions:
                dose_id += 1
                yield (dose_id, i, f"{din}-S90011-{division}", division, "1", "S9001",
                       20_000_000, 10.0, "cryobag", "-150 C", expires, "released", 1,
                       now - timedelta(days=200))

    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        _copy(cursor, "subject", "id, code, kind, initials, date_of_birth, recipient_status, "
              "donor_status, created_by_id, created_at", subjects(), batches)
        _copy(cursor, "collection", "id, subject_id, source, collected_at, collected_by, "
              "volume_ml, din, check_character, chain_of_identity, recorded_by_id, recorded_at",
              collections(), batches)
        _copy(cursor, "batch", "id, batch_number, collection_id, product_id, template_id, "
              "origin, recipient_id, status, registered_by_id, registered_at, "
              "release_signature_id", batch_rows(), batches)
        _copy(cursor, "dose", "id, batch_id, code, division, collection_type, "
              "description_code, cells, volume_ml, container, storage_temperature, expires_at, "
              "status, formulated_by_id, formulated_at", doses(), batches * len(divisions))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def now_utc() -> datetime:
    return datetime.now(UTC)
