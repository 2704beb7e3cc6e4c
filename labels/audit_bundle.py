"""A batch's record and its audit trail exported as a self-checking JSON bundle (SPEC §8).

The bundle holds the batch and every related record (collection, donor and
recipient with their screenings, culture steps, QC results, deviations,
exceptional release, doses, custody events, label prints, signatures), every
audit entry about them with exactly the fields its hash covers, the seqs the
export expects, the chain head at export, a SHA-256 digest of the rest and an
Ed25519 signature of that digest with the audit signing key.
``python -m lims.audit.verify_bundle bundle.json --public-key KEY`` checks it offline
(:mod:`lims.audit.bundle`). The export itself is audited (it is the newest
entry about the batch in the bundle), and it signs a checkpoint of the chain head.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import and_, inspect, or_, select

from batches import isbt128
from batches.models import (
    Batch,
    CustodyEvent,
    DonorScreening,
    RecipientScreening,
)
from labels.models import LabelPrint
from lims import audit, clock
from lims.audit import checkpoints
from lims.audit.bundle import ENTRY_FIELDS, FORMAT, bundle_digest, signature_message
from lims.audit.context import user_is_actor
from lims.audit.models import AuditEntry
from lims.auth.models import Signature, User
from lims.db import db
from lims.hashing import to_jsonable
from qc.deviations import list_deviations
from qc.models import ExceptionalRelease
from qc.results import list_results


def _plain(value: Any) -> Any:
    """A column value as JSON: times in the audit trail's spelling, numbers as numbers."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime | date | Decimal):
        return to_jsonable(value)
    return str(value)


def record_as_dict(obj: Any) -> dict[str, Any]:
    """Every column of a record, by attribute name (the audit trail's field names)."""
    return {attr.key: _plain(getattr(obj, attr.key))
            for attr in inspect(obj).mapper.column_attrs}


def related_records(batch: Batch) -> dict[str, list[Any]]:
    """The batch and every record that belongs to its batch record, by table name."""
    collection = batch.collection
    subjects = {s.id: s for s in (collection.subject, batch.recipient)}
    subject_ids = list(subjects)
    doses = list(batch.doses)
    dose_ids = [d.id for d in doses]
    deviations = list_deviations(batch, limit=10_000)
    exceptional = list(db.session.scalars(select(ExceptionalRelease).where(
        ExceptionalRelease.batch_id == batch.id).order_by(ExceptionalRelease.id)))
    custody_query = select(CustodyEvent).where(CustodyEvent.collection_id == collection.id)
    if dose_ids:
        custody_query = select(CustodyEvent).where(or_(
            CustodyEvent.collection_id == collection.id, CustodyEvent.dose_id.in_(dose_ids)))
    prints = list(db.session.scalars(select(LabelPrint).where(
        LabelPrint.dose_id.in_(dose_ids)).order_by(LabelPrint.id))) if dose_ids else []
    donor_screenings = list(db.session.scalars(select(DonorScreening).where(
        DonorScreening.subject_id.in_(subject_ids)).order_by(DonorScreening.id)))
    signature_ids = {batch.release_signature_id, batch.rejection_signature_id}
    signature_ids |= {d.closure_signature_id for d in deviations}
    signature_ids |= {e.first_signature_id for e in exceptional}
    signature_ids |= {e.second_signature_id for e in exceptional}
    signature_ids |= {s.eligibility_signature_id for s in donor_screenings}
    signature_ids.discard(None)
    signatures = list(db.session.scalars(select(Signature).where(or_(
        Signature.id.in_(signature_ids),
        and_(Signature.entity_type == "batch", Signature.entity_id == str(batch.id))))
        .order_by(Signature.id)))
    return {
        "batch": [batch],
        "collection": [collection],
        "subject": sorted(subjects.values(), key=lambda s: s.id),
        "recipient_screening": list(db.session.scalars(select(RecipientScreening).where(
            RecipientScreening.subject_id.in_(subject_ids)).order_by(RecipientScreening.id))),
        "donor_screening": donor_screenings,
        "culture_step": sorted(batch.steps, key=lambda s: s.id),
        "qc_result": list_results(batch),
        "deviation": sorted(deviations, key=lambda d: d.id),
        "exceptional_release": exceptional,
        "dose": doses,
        "custody_event": list(db.session.scalars(custody_query.order_by(CustodyEvent.id))),
        "label_print": prints,
        "signature": signatures,
    }


def _entries(records: dict[str, list[Any]], up_to_seq: int) -> list[AuditEntry]:
    conditions = [and_(AuditEntry.entity_type == entity_type,
                       AuditEntry.entity_id.in_([str(r.id) for r in rows]))
                  for entity_type, rows in records.items() if rows]
    return list(db.session.scalars(select(AuditEntry).where(
        or_(*conditions), AuditEntry.seq <= up_to_seq).order_by(AuditEntry.seq)))


def entry_as_bundle_dict(entry: AuditEntry) -> dict[str, Any]:
    """The entry's hashed fields as stored (``changes`` is the canonical JSON string)."""
    values = {key: getattr(entry, key) for key in ENTRY_FIELDS}
    values["occurred_at"] = to_jsonable(entry.occurred_at)
    return values


@user_is_actor
def audit_bundle(batch: Batch, user: User) -> dict[str, Any]:
    """Export the batch's record and its audit entries as a bundle (SPEC §8)."""
    audit.record("audit_bundle_export", "batch", batch.id, {"format": [None, FORMAT]})
    head = checkpoints.sign_head()  # SPEC §8: a checkpoint at every export
    records = related_records(batch)
    entries = _entries(records, head.seq)
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": to_jsonable(clock.utcnow()),
        "exported_by": user.username,
        "batch": {"id": batch.id, "batch_number": batch.batch_number,
                  "din": isbt128.format_din(batch.collection.din),
                  "product": batch.product.code, "status": batch.status},
        "records": {entity_type: [record_as_dict(r) for r in rows]
                    for entity_type, rows in records.items()},
        "audit": {
            "hashed_fields": list(ENTRY_FIELDS[:-1]),
            "hash": "sha256 of lims.hashing.canonical_json([seq, occurred_at, actor_id, "
                    "actor_username, action, entity_type, entity_id, changes, reason, "
                    "prev_hash])",
            "expected_seqs": [e.seq for e in entries],
            "entries": [entry_as_bundle_dict(e) for e in entries],
        },
        "chain_head": {"seq": head.seq, "hash": head.hash, "checkpoint_id": head.id},
    }
    digest = bundle_digest(bundle)
    bundle["digest"] = {"algorithm": "sha256",
                        "of": "canonical JSON of the bundle without 'digest' and 'signature'",
                        "value": digest}
    signer, signature = checkpoints.sign_bytes(signature_message(digest))
    bundle["signature"] = {"algorithm": "ed25519", "key_id": signer,
                           "of": signature_message(digest).decode("ascii"),
                           "value": signature}
    return bundle
