"""Look-back (SPEC §3b): from a donor, a collection, a failed test — and, once materials
exist (SPEC §10), a material lot — every collection, batch and dose derived from it,
with status, location and recipient.

Sources are an **extension point**: a package registers how to find the batches a
record of its own touched, with :func:`add_lookback_source` (``qc`` registers the
failed QC result; a materials package will register ``material_lot``, whose batches
are the ones whose steps used the lot). ``batches`` answers for subjects and
collections itself. :func:`lookback` then builds the answer the same way for all.

A reactive result on a donor whose products were released opens a ``lookback``
alert on each affected batch (:func:`open_lookback_alerts`, called by
:mod:`batches.screening`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from batches.alerts import BatchAlert
from batches.common import get_or_404
from batches.custody import last_event
from batches.lifecycle import RELEASED_ONCE
from batches.models import Batch, Collection, Dose, Subject
from lims.alerts.services import Cause, raise_alert
from lims.auth.models import User
from lims.db import db

BatchFinder = Callable[[int], "LookbackStart"]
"""A source: record id → where the look-back starts (404 for an unknown id)."""

_SOURCES_KEY = "batches_lookback_sources"


@dataclass(frozen=True)
class LookbackStart:
    """Where a look-back starts: a label for people, and the collections and batches the
    source reaches directly (a donor: its collections; a lot: the batches that used it)."""

    label: str
    collection_ids: list[int] = field(default_factory=list)
    batch_ids: list[int] = field(default_factory=list)


def add_lookback_source(app: Flask, name: str, finder: BatchFinder) -> None:
    """Register a look-back source (``qc_result``, later ``material_lot``)."""
    app.extensions.setdefault(_SOURCES_KEY, {})[name] = finder


def _subject_start(subject_id: int) -> LookbackStart:
    subject = get_or_404(Subject, subject_id, "subject")
    ids = list(db.session.scalars(select(Collection.id).where(
        Collection.subject_id == subject.id).order_by(Collection.id)))
    return LookbackStart(f"{subject.kind} {subject.code}", collection_ids=ids)


def _collection_start(collection_id: int) -> LookbackStart:
    collection = get_or_404(Collection, collection_id, "collection")
    return LookbackStart(f"collection {collection.din}", collection_ids=[collection.id])


BUILT_IN: dict[str, BatchFinder] = {"subject": _subject_start, "collection": _collection_start}


def lookback_from(source: str, record_id: int) -> dict[str, Any]:
    """The look-back from one record of a registered source (SPEC §3b)."""
    finders = {**BUILT_IN, **current_app.extensions.get(_SOURCES_KEY, {})}
    return lookback(finders[source](record_id), source=source, source_id=record_id)


def lookback(start: LookbackStart, *, source: str, source_id: int) -> dict[str, Any]:
    """Every collection, batch and dose derived from ``start``, with status, location
    (the last custody event's place and holder) and recipient. Bounded by what one
    donor, collection or lot yields; loaded with a fixed number of queries per level."""
    batches = list(db.session.scalars(
        select(Batch).where(Batch.collection_id.in_(start.collection_ids)
                            | Batch.id.in_(start.batch_ids))
        .options(selectinload(Batch.doses), selectinload(Batch.recipient),
                 selectinload(Batch.product))
        .order_by(Batch.id)))
    collection_ids = sorted(set(start.collection_ids) | {b.collection_id for b in batches})
    collections = list(db.session.scalars(select(Collection).where(
        Collection.id.in_(collection_ids)).order_by(Collection.id)))
    doses: list[dict[str, Any]] = []
    for batch in batches:
        for dose in batch.doses:
            doses.append(dose_whereabouts(dose))
    return {
        "source": source, "source_id": source_id, "label": start.label,
        "collections": [{"id": c.id, "din": c.din, "source": c.source,
                         "collected_at": c.collected_at, "subject_id": c.subject_id,
                         "subject_code": c.subject.code} for c in collections],
        "batches": [{"id": b.id, "batch_number": b.batch_number, "status": b.status,
                     "product": b.product.code, "origin": b.origin,
                     "collection_id": b.collection_id,
                     "recipient": {"id": b.recipient.id, "code": b.recipient.code}}
                    for b in batches],
        "doses": doses,
    }


def dose_whereabouts(dose: Dose) -> dict[str, Any]:
    """A dose with its status, where it is and who holds it (its last custody event)."""
    last = last_event(dose)
    recipient = dose.batch.recipient
    return {"id": dose.id, "code": dose.code, "status": dose.status,
            "batch_id": dose.batch_id, "batch_number": dose.batch.batch_number,
            "location": last.to_location if last else None,
            "holder": last.to_person if last else None,
            "last_event": last.event if last else None,
            "recipient": {"id": recipient.id, "code": recipient.code}}


def released_batches_of_donor(donor: Subject) -> list[Batch]:
    """The donor's batches whose release was signed at least once (SPEC §3b)."""
    return list(db.session.scalars(
        select(Batch).join(Collection, Collection.id == Batch.collection_id)
        .where(Collection.subject_id == donor.id,
               Batch.status.in_([s.value for s in RELEASED_ONCE])).order_by(Batch.id)))


def open_lookback_alerts(donor: Subject, reactive: list[str], user: User | None, *,
                         entity: tuple[str, Any]) -> None:
    """SPEC §3b: a reactive result on a donor whose products were released opens a
    ``lookback`` alert on each affected batch (one open alert per batch)."""
    for batch in released_batches_of_donor(donor):
        raise_alert(BatchAlert.lookback, Cause(
            "batch", str(batch.id),
            f"Look-back: donor {donor.code} reactive ({', '.join(reactive)}) — batch "
            f"{batch.batch_number} was released", batch_id=batch.id,
            caused_by_id=user.id if user is not None else None))
