"""Benchmark (issue 7, item 2): scan lookup p95 with 1 000 000 doses against 10 000.

    .venv/bin/python benchmarks/lookup.py                       # 10 000 vs 1 000 000 doses
    .venv/bin/python benchmarks/lookup.py --small 1000 --large 100000

For each size: a scratch PostgreSQL database, released batches with 4 doses each
loaded with COPY (progress bar on stderr), ANALYZE, then ``--requests`` lookups of
random doses' Data Matrix texts through the whole stack (``GET /api/v1/lookup``,
bearer token, in-process WSGI client, warm cache), p95 of the wall-clock times.
The query plan of the dose lookup is printed (it must use the ``dose.code`` index).
Target: p95 at the large size ≤ 1.3 × p95 at the small size.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta

from common import (
    DEFAULT_URL,
    Result,
    din_of,
    dose_texts,
    load_doses,
    now_utc,
    p95,
    print_results,
    scratch,
)

DOSES_PER_BATCH = 4


def measure(url: str, doses: int, requests: int, seed: int) -> tuple[float, float, str]:
    """(p95 seconds, median seconds, plan) of ``requests`` lookups with ``doses`` doses."""
    import statistics

    from lims.auth.services import create_user
    from lims.db import db

    with scratch(url) as bench:
        now = now_utc()
        batches = doses // DOSES_PER_BATCH
        load_doses(batches, DOSES_PER_BATCH, now)
        create_user("scanner", "Scan Ner", "technician", "scan-pass-12", permanent=True)
        db.session.commit()
        expires = now + timedelta(days=200)
        client = bench.app.test_client()
        token = client.post("/api/v1/auth/tokens", json={
            "username": "scanner", "password": "scan-pass-12"}).get_json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        rng = random.Random(seed)
        from batches.common import facility_tz

        tz = facility_tz()
        divisions = ["A0", "B0", "C0", "D0"]
        picks = [(rng.randint(1, batches), rng.choice(divisions)) for _ in range(requests)]
        codes = [dose_texts(i, division, expires.astimezone(tz))["matrix"]
                 for i, division in picks]
        plan = "\n".join(r[0] for r in db.session.execute(db.text(
            "EXPLAIN ANALYZE SELECT * FROM dose WHERE code = :code"),
            {"code": f"{din_of(picks[0][0])}-S90011-{picks[0][1]}"}))
        for code in codes[:200]:  # warm up
            client.get("/api/v1/lookup", query_string={"code": code}, headers=headers)
        times = []
        for code in codes:
            start = time.perf_counter()
            response = client.get("/api/v1/lookup", query_string={"code": code}, headers=headers)
            times.append(time.perf_counter() - start)
            assert response.status_code == 200 and response.get_json()["type"] == "dose", \
                response.get_data(as_text=True)
        db.session.remove()
        return p95(times), statistics.median(times), plan


def run(args) -> list[Result]:
    small_p95, small_median, _ = measure(args.url, args.small, args.requests, args.seed)
    large_p95, large_median, plan = measure(args.url, args.large, args.requests, args.seed)
    print(f"dose lookup plan at {args.large} doses:\n{plan}", file=sys.stderr)
    ratio = large_p95 / small_p95
    index = "Index Scan" in plan
    return [Result(f"scan lookup p95 {args.large:,} doses", large_p95 * 1000,
                   small_p95 * 1000, "ms", ratio, "≤ 1.3", ratio <= 1.3,
                   f"vs {args.small:,} doses; medians {large_median * 1000:.2f} / "
                   f"{small_median * 1000:.2f} ms; index scan: {'yes' if index else 'NO'}")]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--large", type=int, default=1_000_000)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--seed", type=int, default=7)
    return p


def main(argv: list[str] | None = None) -> int:
    results = run(parser().parse_args(argv))
    print_results("Scan lookup (GET /api/v1/lookup, Data Matrix text)", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
