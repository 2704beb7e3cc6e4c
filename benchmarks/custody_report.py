"""Benchmark (issue 7, item 5): the chain-of-custody report of a dose with 1 000 events.

    .venv/bin/python benchmarks/custody_report.py                # 1 000 events
    .venv/bin/python benchmarks/custody_report.py --events 5000

A scratch PostgreSQL database with one released dose whose custody events
(stored / retrieved, alternating, scanned) are loaded with COPY; then
``labels.services.custody_report`` (records → timeline → chain check → PDF, audited
as an issue) is timed, best of ``--repeat``, and the PDF alone
(``labels.documents.custody_report.custody_report_pdf``) for comparison. Target: < 0.5 s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta

from common import DEFAULT_URL, Result, load_doses, now_utc, print_results, progress, scratch

LIMIT_S = 0.5


def run(args) -> list[Result]:
    from batches.models import Dose
    from labels import services
    from labels.documents import from_records
    from labels.documents.custody_report import custody_report_pdf
    from lims.db import db

    with scratch(args.url) as bench:
        now = now_utc()
        load_doses(1, 1, now)
        start = now - timedelta(days=100)
        raw = db.engine.raw_connection()
        cursor = raw.cursor()
        with cursor.copy("COPY custody_event (dose_id, event, from_location, to_location, "
                         "from_person, to_person, occurred_at, temperature_c, scanned_code, "
                         "recorded_by_id, recorded_at, late_entry) FROM STDIN") as copy:
            for n in progress(range(args.events), args.events, "custody_event"):
                event = "stored" if n % 2 == 0 else "retrieved"
                at = start + timedelta(minutes=10 * n)
                copy.write_row((1, event, None if n == 0 else f"Freezer {n % 7}",
                                f"Freezer {(n + 1) % 7}", None if n == 0 else "Bench Mark",
                                "Bench Mark", at, -150.0 + n % 5, "=+06000…", 1, at, False))
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
        raw.close()
        times, pdf_times, size = [], [], 0
        with bench.app.test_request_context():
            for _ in range(args.repeat + 1):
                dose = db.session.get(Dose, 1)
                begin = time.perf_counter()
                pdf = services.custody_report(dose)
                times.append(time.perf_counter() - begin)
                size = len(pdf)
                db.session.rollback()
            report = from_records.custody_report(db.session.get(Dose, 1))
            db.session.rollback()
            for _ in range(args.repeat):
                begin = time.perf_counter()
                custody_report_pdf(report)
                pdf_times.append(time.perf_counter() - begin)
        seconds = min(times[1:])
        return [Result(f"custody report, {args.events:,} events", seconds, LIMIT_S, "s",
                       seconds / LIMIT_S, "< 1", seconds < LIMIT_S,
                       f"PDF alone {min(pdf_times):.3f} s; {size / 1024:.0f} KiB; "
                       f"rows {len(report.timeline)}")]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--events", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=3)
    return p


def main(argv: list[str] | None = None) -> int:
    print_results("Chain-of-custody report (PDF)", run(parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
