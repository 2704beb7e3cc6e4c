"""A batch's audit bundle checked offline (SPEC §8): pure functions, no Flask, no database.

The bundle (exported by ``GET /api/v1/batches/{id}/audit-bundle.json``) holds the
batch's records, every audit entry about them with the fields its hash covers,
the chain head at export and a digest of the rest. :func:`problems` checks it:

1. every entry's hash is recomputed from its fields and ``prev_hash``
   (:func:`lims.audit.chain.entry_hash`); the entries of one batch are a subset
   of the global chain, so links are checked only between consecutive ``seq``;
2. the entries present are exactly the ``expected_seqs`` listed by the export;
3. the chain head is not behind the entries, and matches when it is one of them;
4. each record's current values equal the newest values its audit entries give
   (fields never audited, or masked, are not compared) and each record has its
   ``create`` entry;
5. the bundle digest: SHA-256 of the canonical JSON of everything but ``digest`` and
   ``signature``;
6. with the public key(s) of the audit signing key, given from outside the bundle
   (:func:`signature_problem`): the Ed25519 signature of the digest. Without it only
   the bundle's consistency is known, not who made it: anyone can recompute hashes.

Run it as ``python -m lims.audit.verify_bundle bundle.json --public-key KEY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lims.audit.chain import ChainRow, entry_hash, key_id, signature_valid
from lims.hashing import content_digest, to_jsonable

FORMAT = "cellbatch-lims/audit-bundle/1"
MASK = "***"
CREATED = "__created__"
ENTRY_FIELDS = ("seq", "occurred_at", "actor_id", "actor_username", "action", "entity_type",
                "entity_id", "changes", "reason", "prev_hash", "hash")
"""The fields of an entry in the bundle; all but ``hash`` are hashed, in this order."""


UNSIGNED = ("digest", "signature")


def bundle_digest(bundle: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (:func:`lims.hashing.canonical_json`) of the bundle
    without its ``digest`` and ``signature`` members."""
    return content_digest({key: value for key, value in bundle.items() if key not in UNSIGNED})


def signature_message(digest: str) -> bytes:
    """The bytes the bundle's Ed25519 signature covers (distinct from a checkpoint's)."""
    return f"{FORMAT} digest sha256:{digest}".encode("ascii")


def signature_problem(bundle: dict[str, Any], public_keys: list[Ed25519PublicKey]) -> str | None:
    """None when the bundle's signature verifies with one of ``public_keys`` (trusted keys
    given from outside the bundle), else what is wrong."""
    signature = bundle.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return "the bundle carries no signature: it cannot be authenticated"
    by_id = {key_id(key): key for key in public_keys}
    signer = signature.get("key_id")
    key = by_id.get(signer) if isinstance(signer, str) else None
    if key is None:
        return (f"the bundle is signed by key {signer}, not by the public key(s) given "
                f"({', '.join(sorted(by_id))}): it was re-signed or comes from another system")
    if not signature_valid(key, signature_message(bundle_digest(bundle)), signature["value"]):
        return (f"the bundle's signature does not verify with key {signer}: the bundle was "
                "changed after export")
    return None


def _entry_name(entry: dict[str, Any]) -> str:
    return (f"audit entry seq {entry.get('seq')} ({entry.get('action')} "
            f"{entry.get('entity_type')} {entry.get('entity_id')})")


def _same(record_value: Any, audited: Any) -> bool:
    if to_jsonable(record_value) == audited:
        return True
    if isinstance(record_value, float) and not isinstance(audited, bool):
        try:
            return float(audited) == record_value
        except (TypeError, ValueError):
            return False
    return False


def _check_entries(entries: list[Any]) -> Iterator[str]:
    previous: dict[str, Any] | None = None
    for entry in entries:
        if not isinstance(entry, dict) or set(ENTRY_FIELDS) - set(entry):
            missing = sorted(set(ENTRY_FIELDS) - set(entry)) if isinstance(entry, dict) else []
            yield f"an audit entry is malformed (missing {', '.join(missing) or 'everything'})"
            return
        try:
            row = ChainRow(**{key: entry[key] for key in ENTRY_FIELDS})
            recomputed = entry_hash(row)
        except (TypeError, ValueError) as problem:
            yield f"{_entry_name(entry)} cannot be hashed: {problem}"
            return
        if recomputed != entry["hash"]:
            yield (f"{_entry_name(entry)}: its content does not match its hash "
                   "(the entry was altered)")
            return
        try:
            changes = json.loads(entry["changes"])
        except (TypeError, ValueError):
            changes = None
        if not isinstance(changes, dict):
            yield f"{_entry_name(entry)}: its changes are not a JSON object"
            return
        if previous is not None:
            if not isinstance(entry["seq"], int) or entry["seq"] <= previous["seq"]:
                yield (f"{_entry_name(entry)} is out of order: seq {entry['seq']} "
                       f"follows seq {previous['seq']}")
                return
            if entry["seq"] == previous["seq"] + 1 and entry["prev_hash"] != previous["hash"]:
                yield (f"{_entry_name(entry)} does not link to seq {previous['seq']} "
                       "(prev_hash differs from its hash)")
                return
        previous = entry


def _newest_values(entries: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(entity_type, entity_id) → {field: (newest value, seq)} from create/update entries."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries:
        if entry["action"] not in ("create", "update"):
            continue
        fields = newest.setdefault((entry["entity_type"], entry["entity_id"]), {})
        if entry["action"] == "create":
            fields[CREATED] = (True, entry["seq"])
        for field, change in json.loads(entry["changes"]).items():
            if isinstance(change, list) and len(change) == 2:
                fields[field] = (change[1], entry["seq"])
    return newest


def _check_records(records: Any, entries: list[dict[str, Any]]) -> Iterator[str]:
    if not isinstance(records, dict):
        yield "records: not a JSON object"
        return
    newest = _newest_values(entries)
    for entity_type, rows in records.items():
        if not isinstance(rows, list):
            yield f"records.{entity_type}: not a list"
            return
        for record in rows:
            if not isinstance(record, dict) or "id" not in record:
                yield f"records.{entity_type}: a record without an id"
                return
            name = f"record {entity_type} {record['id']}"
            audited = newest.get((entity_type, str(record["id"])))
            if not audited or CREATED not in audited:
                yield f"{name} has no 'create' audit entry in the bundle"
                return
            for field, (value, seq) in audited.items():
                if field == CREATED or value == MASK:
                    continue
                if field not in record:
                    yield f"{name}: field {field} is missing (audited at seq {seq})"
                    return
                if not _same(record[field], value):
                    yield (f"{name}: field {field} is {json.dumps(record[field])} but its "
                           f"newest audit value (seq {seq}) is {json.dumps(value)}")
                    return


def problems(bundle: Any) -> Iterator[str]:
    """Every problem found, most specific first; an intact bundle yields nothing."""
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        yield f"not an audit bundle (format {FORMAT!r} expected)"
        return
    audit = bundle.get("audit")
    if not isinstance(audit, dict) or not isinstance(audit.get("entries"), list) \
            or not isinstance(audit.get("expected_seqs"), list):
        yield "audit: entries and expected_seqs are missing"
        return
    entries = audit["entries"]
    broken = next(_check_entries(entries), None)
    if broken:
        yield broken
        return
    present = [entry["seq"] for entry in entries]
    expected = audit["expected_seqs"]
    missing = sorted(set(expected) - set(present), key=str)
    if missing:
        yield (f"audit entry seq {missing[0]} is missing from the bundle "
               "(listed in expected_seqs: removed)")
    extra = sorted(set(present) - set(expected), key=str)
    if extra:
        yield f"audit entry seq {extra[0]} is not listed in expected_seqs (inserted)"
    head = bundle.get("chain_head")
    if not isinstance(head, dict) or not isinstance(head.get("seq"), int):
        yield "chain_head: seq and hash are missing"
    else:
        if present and max(present) > head["seq"]:
            yield f"chain_head seq {head['seq']} is behind audit entry seq {max(present)}"
        by_seq = {entry["seq"]: entry for entry in entries}
        if head["seq"] in by_seq and by_seq[head["seq"]]["hash"] != head.get("hash"):
            yield f"chain_head hash does not match audit entry seq {head['seq']}"
    if not missing and not extra:
        yield from _check_records(bundle.get("records"), entries)
    digest = bundle.get("digest")
    recorded = digest.get("value") if isinstance(digest, dict) else None
    if recorded != bundle_digest(bundle):
        yield "bundle digest does not match its content (the bundle was changed after export)"


def first_problem(bundle: Any) -> str | None:
    return next(problems(bundle), None)
