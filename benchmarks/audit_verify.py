"""Benchmark (issue 7 item 6, issue 14): ``audit-verify`` against fetching the same rows
and hashing them, and its peak memory at 100 000 and 1 000 000 entries (it must not grow).

    .venv/bin/python benchmarks/audit_verify.py                        # 100 000 then 1 000 000
    .venv/bin/python benchmarks/audit_verify.py --sizes 10000 100000

A scratch PostgreSQL database gets a valid hash chain loaded with COPY (entries made
with the recorder's own ``entry_hash``, progress bar on stderr); at each size
``lims.audit.services.verify`` (what ``flask lims audit-verify`` runs) is timed with
tracemalloc tracing the Python heap (peak of the verify alone). The baseline (issue 14)
is "fetch + SHA-256": the same rows read in ``seq`` order through a server-side cursor
of the same fetch size, and ``hashlib.sha256`` over each row's changes and previous hash
(the bulk of its bytes) — what any verifier must at least do. The in-memory SHA-256
rate of the canonical bytes is printed too, for reference. Targets: verify rate ≥ 0.5 ×
the baseline; peak memory independent of the size.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import sys
import time
import tracemalloc
from datetime import timedelta

from common import DEFAULT_URL, Result, now_utc, print_results, progress, scratch

SAMPLE = 100_000


def entries(start_seq: int, count: int, prev_hash: str, now):
    """Chain rows seq start_seq+1 … start_seq+count, like the recorder writes them
    (a step creation's changes); yields (row tuple, canonical bytes)."""
    from lims.audit.chain import ChainRow, entry_hash
    from lims.hashing import canonical_json, to_jsonable

    for seq in range(start_seq + 1, start_seq + count + 1):
        at = now - timedelta(seconds=start_seq + count - seq)
        changes = canonical_json({
            "batch_id": [None, seq // 10], "type": [None, "media_change"],
            "status": [None, "done"], "confluence_pct": [None, seq % 100],
            "notes": [None, f"bench entry {seq}"], "performed_at": [None, to_jsonable(at)]})
        row = ChainRow(seq=seq, occurred_at=at, actor_id=1, actor_username="bench",
                       action="create", entity_type="culture_step", entity_id=str(seq),
                       changes=changes, reason=None, prev_hash=prev_hash)
        prev_hash = entry_hash(row)
        yield (seq, seq, at, 1, "bench", "create", "culture_step", str(seq), changes, None,
               row.prev_hash, prev_hash)


def load(cursor, start_seq: int, count: int, prev_hash: str, now) -> str:
    with cursor.copy("COPY audit_entry (id, seq, occurred_at, actor_id, actor_username, action, "
                     "entity_type, entity_id, changes, reason, prev_hash, hash) "
                     "FROM STDIN") as copy:
        for row in progress(entries(start_seq, count, prev_hash, now), count, "audit_entry"):
            copy.write_row(row)
            prev_hash = row[-1]
    cursor.execute("UPDATE audit_head SET last_seq = %s, last_hash = %s WHERE id = 1",
                   (start_seq + count, prev_hash))
    return prev_hash


def bare_rate(now) -> float:
    """Entries per second of sha256 over the same canonical bytes (a sample, in memory)."""
    from lims.audit.chain import entry_hash  # noqa: F401 (same import cost on both sides)
    from lims.hashing import canonical_json, to_jsonable

    blobs = []
    for row in entries(0, SAMPLE, "0" * 64, now):
        seq, _, at, actor, user, action, etype, eid, changes, reason, prev, _ = row
        blobs.append(canonical_json([seq, to_jsonable(at), actor, user, action, etype, eid,
                                     changes, reason, prev]).encode())
    start = time.perf_counter()
    for blob in blobs:
        hashlib.sha256(blob).hexdigest()
    return SAMPLE / (time.perf_counter() - start)


def fetch_and_hash_rate(raw) -> tuple[float, int]:
    """Entries per second of reading every chain row (server-side cursor, the verify's
    fetch size) and SHA-256 over its changes and previous hash; and the row count."""
    from lims.audit.services import _CHAIN_SQL_POSTGRES, _FETCH

    start = time.perf_counter()
    with raw.cursor(name="bench_fetch_hash") as cursor:
        cursor.itersize = _FETCH
        cursor.execute(_CHAIN_SQL_POSTGRES)
        count = 0
        for row in cursor:
            hashlib.sha256((row[7] + row[9]).encode()).hexdigest()
            count += 1
    raw.rollback()
    return count / (time.perf_counter() - start), count


def run(args) -> list[Result]:
    from lims.audit.services import verify
    from lims.db import db

    results, peaks = [], []
    with scratch(args.url):
        now = now_utc()
        raw = db.engine.raw_connection()
        cursor = raw.cursor()
        seq, prev_hash = cursor.execute(
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetchone()
        # the preparation's own few entries stay at the start of the chain
        cursor.execute("SELECT setval(pg_get_serial_sequence('audit_entry', 'id'), 1)")
        id_offset = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM audit_entry").fetchone()[0]
        assert id_offset == seq, "audit ids and seqs differ; cannot append by COPY"
        in_memory = bare_rate(now)
        for size in sorted(args.sizes):
            if size > seq:
                prev_hash = load(cursor, seq, size - seq, prev_hash, now)
                seq = size
                raw.commit()
            verify()  # warm the cache once
            db.session.rollback()
            start = time.perf_counter()
            result = verify()
            seconds = time.perf_counter() - start
            db.session.rollback()
            tracemalloc.start()  # a second run for the memory: tracing slows Python down
            verify()
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            db.session.rollback()
            assert result.intact and result.checked == seq, result
            rate = seq / seconds
            fetch_hash, fetched = fetch_and_hash_rate(raw)
            assert fetched == seq
            peaks.append(peak)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            results.append(Result(f"audit-verify {seq:,} entries", rate, fetch_hash, "/s",
                                  rate / fetch_hash, "≥ 0.5", rate / fetch_hash >= 0.5,
                                  f"{seconds:.1f} s; baseline: fetch + SHA-256; SHA-256 "
                                  f"alone in memory {in_memory:,.0f}/s; traced peak "
                                  f"{peak / 2**20:.1f} MiB; process max RSS {rss:.0f} MiB"))
        raw.close()
    grows = peaks[-1] > 1.5 * peaks[0] + 2**20
    results.append(Result("audit-verify peak memory, large/small", peaks[-1] / 2**20,
                          peaks[0] / 2**20, "MiB", peaks[-1] / peaks[0], "constant", not grows,
                          f"tracemalloc peak during verify at {min(args.sizes):,} and "
                          f"{max(args.sizes):,} entries"))
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", default=DEFAULT_URL)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    return p


def main(argv: list[str] | None = None) -> int:
    print_results("audit-verify (hash chain)", run(parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
