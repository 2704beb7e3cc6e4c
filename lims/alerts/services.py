"""Opening, reconciling, acknowledging and listing alerts (SPEC §4)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import exc, select

from lims import clock
from lims.alerts.models import EVENT_KINDS, SEVERITY, Alert, AlertKind
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest, Conflict, NotFound


class Cause(NamedTuple):
    """Why an alert should be open now: the entity it is about and a line for people.

    ``summary`` may be a function making the line: it is then called only when the
    alert is opened, not on every sweep that finds the alert already open. (A named
    tuple: the sweep makes one per overdue step on every run, and a frozen dataclass
    costs several times as much to build.)
    """

    entity_type: str
    entity_id: str
    summary: str | Callable[[], str]
    batch_id: int | None = None

    def text(self) -> str:
        return (self.summary() if callable(self.summary) else self.summary)[:500]


def _open_alert_ids(kind: AlertKind) -> dict[tuple[str, str], int]:
    """(entity_type, entity_id) → id of the open alerts of ``kind`` (ix_alert_open_kind)."""
    db.session.flush()
    # Core rows on the session's connection: no ORM row processing for a read of keys.
    rows = db.session.connection().execute(
        select(Alert.entity_type, Alert.entity_id, Alert.id)
        .where(Alert.kind == kind.value, Alert.resolved_at.is_(None)))
    return {(entity_type, entity_id): alert_id for entity_type, entity_id, alert_id in rows}


def _new_alert(kind: AlertKind, cause: Cause) -> Alert:
    return Alert(kind=kind.value, entity_type=cause.entity_type, entity_id=cause.entity_id,
                 batch_id=cause.batch_id, summary=cause.text(),
                 severity=SEVERITY[kind], opened_at=clock.utcnow())


def raise_alert(kind: AlertKind, cause: Cause) -> tuple[Alert, bool]:
    """Open an alert unless one is already open for (kind, entity); returns (alert, created).

    The partial unique index makes this safe against a concurrent opener: the
    loser's insert fails inside a savepoint and it returns the winner's alert.
    """
    existing = db.session.scalar(select(Alert).where(
        Alert.kind == kind.value, Alert.entity_type == cause.entity_type,
        Alert.entity_id == cause.entity_id, Alert.resolved_at.is_(None)))
    if existing is not None:
        return existing, False
    alert = _new_alert(kind, cause)
    try:
        with db.session.begin_nested():
            db.session.add(alert)
    except exc.IntegrityError:
        return db.session.scalars(select(Alert).where(
            Alert.kind == kind.value, Alert.entity_type == cause.entity_type,
            Alert.entity_id == cause.entity_id, Alert.resolved_at.is_(None))).one(), False
    return alert, True


def reconcile(kind: AlertKind, causes: list[Cause]) -> tuple[list[Alert], list[Alert]]:
    """Make the open alerts of ``kind`` match ``causes``: open the missing, resolve the gone.

    Idempotent: running it twice with the same causes changes nothing. It reads only
    the open alerts of ``kind`` (keys, not whole rows), inserts the missing ones in
    one flush (one multi-row INSERT and one batch of audit entries) and loads only
    the alerts it resolves. Should a concurrent opener have inserted one of them
    meanwhile (the partial unique index refuses the batch), it falls back to
    :func:`raise_alert` one by one.
    """
    current = {(c.entity_type, c.entity_id): c for c in causes}
    open_now = _open_alert_ids(kind)
    # In key order, so two openers racing without the sweep lock queue on the unique
    # index instead of deadlocking.
    missing = [current[key] for key in sorted(current) if key not in open_now]
    opened: list[Alert] = []
    if missing:
        opened = [_new_alert(kind, cause) for cause in missing]
        try:
            with db.session.begin_nested():
                db.session.add_all(opened)
        except exc.IntegrityError:
            opened = [alert for alert, created in (raise_alert(kind, c) for c in missing)
                      if created]
    gone = [alert_id for key, alert_id in open_now.items() if key not in current]
    resolved: list[Alert] = []
    for start in range(0, len(gone), 1000):
        resolved += db.session.scalars(select(Alert).where(Alert.id.in_(gone[start:start + 1000])))
    now = clock.utcnow()
    for alert in resolved:
        alert.resolved_at = now
        alert.resolution = "cause resolved"
    db.session.flush()
    return opened, resolved


def get_alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    return alert


@user_is_actor
def acknowledge(alert: Alert, user: User, comment: str) -> Alert:
    """Someone has seen it and says what they do about it (a comment is required).

    An event alert (identity mismatch) is resolved by its acknowledgement; a
    state alert stays open until its cause is gone.
    """
    if not comment or not comment.strip():
        raise BadRequest("Acknowledging an alert needs a comment.",
                         details={"fields": {"comment": "required"}})
    if alert.acknowledged_at is not None:
        raise Conflict("The alert is already acknowledged.", ["already acknowledged"])
    alert.acknowledged_at = clock.utcnow()
    alert.acknowledged_by_id = user.id
    alert.acknowledgement = comment.strip()
    if alert.kind in EVENT_KINDS and alert.resolved_at is None:
        alert.resolved_at = alert.acknowledged_at
        alert.resolution = "acknowledged"
    db.session.flush()
    return alert


def list_alerts(kind: str | None = None, open_only: bool | None = None,
                batch_id: int | None = None, limit: int = 200) -> list[Alert]:
    """Open before resolved, unacknowledged first, most urgent first, newest first."""
    query = select(Alert)
    if kind:
        query = query.where(Alert.kind == kind)
    if open_only is True:
        query = query.where(Alert.resolved_at.is_(None))
    elif open_only is False:
        query = query.where(Alert.resolved_at.is_not(None))
    if batch_id is not None:
        query = query.where(Alert.batch_id == batch_id)
    query = query.order_by(Alert.resolved_at.is_not(None), Alert.acknowledged_at.is_not(None),
                           Alert.severity, Alert.opened_at.desc(), Alert.id.desc())
    return list(db.session.scalars(query.limit(limit)))
