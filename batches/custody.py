"""Chain of custody: the first event of each collection and dose (SPEC §2, §5).

The custody API and screens (handoffs confirmed by scanning, administration)
come with the labels issue; here the chain starts: ``collected`` when a
collection is registered, ``stored`` at the processing facility by the
formulating technician when a dose is formulated.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from batches.models import Collection, CustodyEvent, CustodyEventType, Dose
from lims.auth.models import User
from lims.db import db


def record_first_custody(*, event: CustodyEventType, occurred_at: datetime, user: User,
                         to_location: str | None, to_person: str | None,
                         dose: Dose | None = None, collection: Collection | None = None,
                         temperature_c: float | None = None) -> CustodyEvent:
    custody = CustodyEvent(
        dose_id=dose.id if dose else None, collection_id=collection.id if collection else None,
        event=event.value, to_location=to_location, to_person=to_person,
        occurred_at=occurred_at, temperature_c=temperature_c, recorded_by_id=user.id)
    db.session.add(custody)
    db.session.flush()
    return custody


def custody_events(*, dose: Dose | None = None, collection: Collection | None = None
                   ) -> list[CustodyEvent]:
    query = select(CustodyEvent)
    if dose is not None:
        query = query.where(CustodyEvent.dose_id == dose.id)
    if collection is not None:
        query = query.where(CustodyEvent.collection_id == collection.id)
    return list(db.session.scalars(query.order_by(CustodyEvent.occurred_at, CustodyEvent.id)))
