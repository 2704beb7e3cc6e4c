"""Collections (harvests and donations) and their ISBT 128 DIN (SPEC §2, §6).

Each collection gets a DIN: the configured facility (``LIMS_FACILITY_FIN`` →
``FACILITY_FIN``), the two-digit year of the collection in the facility's time
zone, and a 6-digit sequence from a per-(FIN, year) counter row locked
``FOR UPDATE`` (:func:`batches.common.next_number`), so concurrent
registrations never share one; ``collection.din`` is unique as well. The
ISO/IEC 7064 MOD 37-2 check character and the chain-of-identity identifier
(``&/CH`` + FIN + year + the same sequence) are stored with it.

A donor's collection is refused when the donor's current screening specimen
lies outside the collection's window (SPEC §2; see :mod:`batches.screening`).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from batches import isbt128
from batches.common import facility_tz, get_or_404, next_number, refuse_future
from batches.models import Collection, CustodyEventType, Subject, SubjectKind
from batches.screening import latest_donor_screening, specimen_refusal
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import Conflict, Unavailable


def facility_fin() -> str:
    fin = current_app.config["FACILITY_FIN"]
    if not isbt128.valid_fin(fin):
        raise Unavailable(f"The configured facility identification number {fin!r} is not a "
                          "valid FIN (LIMS_FACILITY_FIN: a letter A–N, P–Z or digit 1–9, then "
                          "4 digits).", code="misconfigured")
    return fin


@user_is_actor
def register_collection(data: dict[str, Any], user: User) -> Collection:
    """Register a harvest or donation and give it a DIN (SPEC §2 Collection, §6 DIN)."""
    subject: Subject = get_or_404(Subject, data["subject_id"], "subject")
    collected_at = data["collected_at"]
    refuse_future(collected_at, "collected_at")
    fin = facility_fin()
    if subject.kind == SubjectKind.donor:
        screening = latest_donor_screening(subject)
        if screening is not None:
            probe = Collection(source=data["source"], collected_at=collected_at, din="(new)")
            refusal = specimen_refusal(screening, probe)
            if refusal:
                raise Conflict("The donor's screening specimen does not cover this collection "
                               "(outside the allowed window, or not the specimen 21 CFR "
                               "1271.80(b) asks for); record the screening of the right "
                               "specimen first.", [refusal])
    year = collected_at.astimezone(facility_tz()).year
    sequence = next_number(f"DIN {fin} {year}")
    if sequence > 999_999:
        raise Conflict("The DIN sequence for this year is exhausted.",
                       [f"all 999999 DINs of {fin} {year} are used"])
    din = isbt128.make_din(fin, year, sequence)
    collection = Collection(
        subject_id=subject.id, source=data["source"], collected_at=collected_at,
        collected_by=data.get("collected_by") or user.full_name, volume_ml=data["volume_ml"],
        notes=data.get("notes"), din=din, check_character=isbt128.din_check_character(din),
        chain_of_identity=isbt128.chain_of_identity_text(fin, year, sequence)[2:],
        recorded_by_id=user.id)
    db.session.add(collection)
    db.session.flush()
    from batches.custody import record_first_custody

    record_first_custody(collection=collection, event=CustodyEventType.collected,
                         occurred_at=collected_at, to_person=collection.collected_by,
                         to_location=None, user=user)
    return collection


def get_collection(collection_id: int) -> Collection:
    return get_or_404(Collection, collection_id, "collection")


def find_by_din(din: str) -> Collection | None:
    return db.session.scalar(select(Collection).where(Collection.din == din))


def find_by_chain_of_identity(identifier: str) -> Collection | None:
    return db.session.scalar(select(Collection).where(Collection.chain_of_identity == identifier))


def list_collections(subject_id: int | None = None, limit: int = 200) -> list[Collection]:
    query = select(Collection)
    if subject_id:
        query = query.where(Collection.subject_id == subject_id)
    return list(db.session.scalars(query.order_by(Collection.id.desc()).limit(limit)))
