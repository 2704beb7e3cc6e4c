"""What must hold after the load (and after a worker was killed mid-load).

Each check reads the database directly (a connection of its own, after the server has
stopped) and asserts one invariant over the ledger of acknowledged writes. Add a check
to :data:`CHECKS` with the action that needs it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from batches.custody_rules import ChainLink, chain_breaks
from tests.load.harness import Ledger


def _audited(conn, entity_type: str) -> dict[str, list[dict]]:
    """Audit entries of one entity type: entity id → list of decoded ``changes``."""
    rows = conn.execute(sa.text("SELECT entity_id, changes FROM audit_entry "
                                "WHERE entity_type = :t"), {"t": entity_type})
    found: dict[str, list[dict]] = defaultdict(list)
    for entity_id, changes in rows:
        found[entity_id].append(json.loads(changes))
    return found


def acknowledged_collections_are_there_once(conn, ledger: Ledger) -> None:
    acked = ledger.acknowledged["collection"]
    ids = [row["id"] for row in acked]
    assert len(ids) == len(set(ids)), "two acknowledged registrations got the same id"
    stored = {row.id: row for row in conn.execute(sa.text(
        "SELECT id, din, subject_id FROM collection"))}
    missing = [row for row in acked if row["id"] not in stored]
    assert not missing, f"acknowledged collections lost: {missing[:5]}"
    wrong = [row for row in acked if (stored[row["id"]].din, stored[row["id"]].subject_id)
             != (row["din"], row["subject_id"])]
    assert not wrong, f"acknowledged collections changed: {wrong[:5]}"


def dins_are_unique_and_gap_free(conn, ledger: Ledger) -> None:
    """Every DIN once; per FIN and year, the sequences of the stored collections run 1…N
    without a gap (a rolled-back registration gives its number back)."""
    dins = [din for (din,) in conn.execute(sa.text("SELECT din FROM collection"))]
    duplicates = [din for din, n in Counter(dins).items() if n > 1]
    assert not duplicates, f"DINs given twice: {duplicates[:5]}"
    by_scope: dict[str, list[int]] = defaultdict(list)
    for din in dins:
        by_scope[din[:7]].append(int(din[7:]))
    for scope, numbers in by_scope.items():
        gaps = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        assert not gaps and len(numbers) == max(numbers), \
            f"DIN sequence of {scope} has gaps {gaps[:10]} (of {len(numbers)} numbers)"
    acked = {row["din"] for row in ledger.acknowledged["collection"]}
    assert acked <= set(dins)


def every_collection_is_whole(conn, ledger: Ledger) -> None:
    """No half-written registration: each stored collection has its audit entry and its
    first custody event (``collected``)."""
    audited = _audited(conn, "collection")
    custody = {cid for (cid,) in conn.execute(sa.text(
        "SELECT collection_id FROM custody_event WHERE event = 'collected'"))}
    for (cid,) in conn.execute(sa.text("SELECT id FROM collection")):
        assert str(cid) in audited, f"collection {cid} has no audit entry"
        assert cid in custody, f"collection {cid} has no 'collected' custody event"


def acknowledged_steps_are_there_once(conn, ledger: Ledger) -> None:
    acked = ledger.acknowledged["culture_step"]
    ids = [row["id"] for row in acked]
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, (f"{len(twice)} step rows were acknowledged to two different writes "
                       f"(the later overwrote the earlier): ids {twice[:10]}")
    stored = {row.id: row for row in conn.execute(sa.text(
        "SELECT id, batch_id, type, status, passage, notes FROM culture_step"))}
    for row in acked:
        step = stored.get(row["id"])
        assert step is not None, f"acknowledged step lost: {row}"
        assert (step.batch_id, step.type, step.status, step.notes) == \
            (row["batch_id"], row["type"], "done", row["notes"]), (row, step)


def passages_are_unique_per_batch(conn, ledger: Ledger) -> None:
    rows = conn.execute(sa.text("SELECT batch_id, passage FROM culture_step "
                                "WHERE type = 'passage' AND status = 'done'"))
    per_batch: dict[int, list[int]] = defaultdict(list)
    for batch_id, passage in rows:
        per_batch[batch_id].append(passage)
    for batch_id, passages in per_batch.items():
        assert sorted(passages) == list(range(1, len(passages) + 1)), \
            f"batch {batch_id} passages {sorted(passages)}"


def every_done_step_is_audited(conn, ledger: Ledger) -> None:
    """No half-written step: each performed step has the audit entry that records who
    performed it."""
    audited = _audited(conn, "culture_step")
    for (sid,) in conn.execute(sa.text("SELECT id FROM culture_step WHERE status = 'done'")):
        assert any("performed_by_id" in changes for changes in audited.get(str(sid), [])), \
            f"done step {sid} has no audit entry recording its performer"


def acknowledged_custody_events_are_there_once(conn, ledger: Ledger) -> None:
    acked = ledger.acknowledged["custody_event"]
    ids = [row["id"] for row in acked]
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, f"custody event ids acknowledged twice: {twice[:10]}"
    stored = {row.id: row for row in conn.execute(sa.text(
        "SELECT id, dose_id, event, to_location FROM custody_event"))}
    for row in acked:
        event = stored.get(row["id"])
        assert event is not None, f"acknowledged custody event lost: {row}"
        assert (event.dose_id, event.event, event.to_location) == \
            (row["dose_id"], row["event"], row["location"]), (row, event)
    locations = Counter(e.to_location for e in stored.values() if e.to_location)
    doubled = [loc for loc in (row["location"] for row in acked) if locations[loc] > 1]
    assert not doubled, f"one acknowledged handoff stored twice: {doubled[:5]}"


def _when(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def every_dose_chain_is_unbroken(conn, ledger: Ledger) -> None:
    """Each dose's custody chain, as the report reads it (by time, then id), starts with
    ``stored``, follows the state graph, never goes back in time, and every handoff after
    formulation was confirmed by a scan (SPEC §5)."""
    chains: dict[int, list[ChainLink]] = defaultdict(list)
    rows = conn.execute(sa.text("SELECT dose_id, event, occurred_at, scanned_code "
                                "FROM custody_event WHERE dose_id IS NOT NULL "
                                "ORDER BY dose_id, occurred_at, id"))
    for dose_id, event, occurred_at, scanned in rows:
        first = not chains[dose_id]
        chains[dose_id].append(ChainLink(event, _when(occurred_at), first or bool(scanned)))
    broken = {dose: chain_breaks(links) for dose, links in chains.items()}
    broken = {dose: why for dose, why in broken.items() if why}
    assert not broken, f"broken custody chains: {dict(list(broken.items())[:5])}"
    doses = {dose_id for (dose_id,) in conn.execute(sa.text("SELECT id FROM dose"))}
    assert doses <= set(chains), f"doses without custody: {sorted(doses - set(chains))[:5]}"


def every_custody_event_is_audited(conn, ledger: Ledger) -> None:
    audited = _audited(conn, "custody_event")
    for (eid,) in conn.execute(sa.text("SELECT id FROM custody_event "
                                       "WHERE dose_id IS NOT NULL")):
        assert str(eid) in audited, f"custody event {eid} has no audit entry"


def no_duplicate_open_alerts(conn, ledger: Ledger) -> None:
    """Concurrent sweeps (and requests) never open a second alert for the same cause."""
    rows = conn.execute(sa.text(
        "SELECT kind, entity_type, entity_id, COUNT(*) FROM alert "
        "WHERE resolved_at IS NULL GROUP BY kind, entity_type, entity_id "
        "HAVING COUNT(*) > 1"))
    duplicates = [tuple(row) for row in rows]
    assert not duplicates, f"duplicate open alerts: {duplicates[:5]}"


def one_deviation_per_overdue_step(conn, ledger: Ledger) -> None:
    rows = conn.execute(sa.text(
        "SELECT step_id, COUNT(*) FROM deviation WHERE step_id IS NOT NULL "
        "GROUP BY step_id HAVING COUNT(*) > 1"))
    duplicates = [tuple(row) for row in rows]
    assert not duplicates, f"steps with two deviations: {duplicates[:5]}"


Check = Callable[[sa.Connection, Ledger], None]

CHECKS: list[Check] = [
    acknowledged_collections_are_there_once,
    dins_are_unique_and_gap_free,
    every_collection_is_whole,
    acknowledged_steps_are_there_once,
    passages_are_unique_per_batch,
    every_done_step_is_audited,
    acknowledged_custody_events_are_there_once,
    every_dose_chain_is_unbroken,
    every_custody_event_is_audited,
    no_duplicate_open_alerts,
    one_deviation_per_overdue_step,
]
