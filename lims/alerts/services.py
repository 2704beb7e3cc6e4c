"""Opening, reconciling, acknowledging, closing and listing alerts (SPEC §2 Alert, §3b, §4).

Kinds are registered by the feature packages (:mod:`lims.alerts.registry`); this
module treats them all alike, by their spec: a state alert is resolved by the
sweep when its cause is gone (:func:`reconcile`), an event alert is closed by a
person with a written investigation (:func:`close_alert`). Acknowledging never
resolves an alert: it records who saw it and what they do about it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from sqlalchemy import case, exc, select
from sqlalchemy.orm import selectinload

from lims import clock
from lims.alerts.models import Alert
from lims.alerts.registry import alert_kind
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest, Conflict, Forbidden, NotFound


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
    caused_by_id: int | None = None
    """The user whose act raised the alert (an event alert): they may never close it."""

    def text(self) -> str:
        return (self.summary() if callable(self.summary) else self.summary)[:500]


def _open_alert_ids(kind: str) -> dict[tuple[str, str], int]:
    """(entity_type, entity_id) → id of the open alerts of ``kind`` (ix_alert_open_kind)."""
    db.session.flush()
    # Core rows on the session's connection: no ORM row processing for a read of keys.
    rows = db.session.connection().execute(
        select(Alert.entity_type, Alert.entity_id, Alert.id)
        .where(Alert.kind == kind, Alert.resolved_at.is_(None)))
    return {(entity_type, entity_id): alert_id for entity_type, entity_id, alert_id in rows}


def _new_alert(kind: str, cause: Cause) -> Alert:
    spec = alert_kind(kind)
    return Alert(kind=spec.name, entity_type=cause.entity_type, entity_id=cause.entity_id,
                 batch_id=cause.batch_id, summary=cause.text(), caused_by_id=cause.caused_by_id,
                 severity=spec.severity, opened_at=clock.utcnow())


def _open_alert(kind: str, cause: Cause) -> Alert | None:
    return db.session.scalar(select(Alert).where(
        Alert.kind == kind, Alert.entity_type == cause.entity_type,
        Alert.entity_id == cause.entity_id, Alert.resolved_at.is_(None)))


def raise_alert(kind: str, cause: Cause) -> tuple[Alert, bool]:
    """Open an alert unless one is already open for (kind, entity); returns (alert, created).

    The partial unique index makes this safe against a concurrent opener: the
    loser's insert fails inside a savepoint and it returns the winner's alert.
    """
    kind = alert_kind(kind).name
    existing = _open_alert(kind, cause)
    if existing is not None:
        return existing, False
    alert = _new_alert(kind, cause)
    try:
        with db.session.begin_nested():
            db.session.add(alert)
    except exc.IntegrityError:
        return _open_alert(kind, cause), False  # type: ignore[return-value]
    return alert, True


def reconcile(kind: str, causes: list[Cause]) -> tuple[list[Alert], list[Alert]]:
    """Make the open alerts of ``kind`` match ``causes``: open the missing, resolve the gone.

    Idempotent: running it twice with the same causes changes nothing. It reads only
    the open alerts of ``kind`` (keys, not whole rows), inserts the missing ones in
    one flush (one multi-row INSERT and one batch of audit entries) and loads only
    the alerts it resolves. Should a concurrent opener have inserted one of them
    meanwhile (the partial unique index refuses the batch), it falls back to
    :func:`raise_alert` one by one. Only state kinds are reconciled: an event alert
    is never resolved because a sweep no longer sees its cause.
    """
    spec = alert_kind(kind)
    if spec.closed_by_investigation:
        raise ValueError(f"{kind} alerts are closed by investigation, not reconciled")
    kind = spec.name
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

    Acknowledging never resolves an alert: a state alert stays open until its cause
    is gone, an event alert until it is closed with an investigation
    (:func:`close_alert`).
    """
    if not comment or not comment.strip():
        raise BadRequest("Acknowledging an alert needs a comment.",
                         details={"fields": {"comment": "required"}})
    if alert.acknowledged_at is not None:
        raise Conflict("The alert is already acknowledged.", ["already acknowledged"])
    alert.acknowledged_at = clock.utcnow()
    alert.acknowledged_by_id = user.id
    alert.acknowledgement = comment.strip()
    db.session.flush()
    return alert


def closing_refusals(alert: Alert, user: User) -> list[str]:
    """Why ``user`` may not close ``alert`` now (empty: they may); the role is checked
    apart (a 403, see :func:`close_alert`)."""
    spec = alert_kind(alert.kind)
    reasons = []
    if not spec.closed_by_investigation:
        reasons.append(f"a {alert.kind.replace('_', ' ')} alert closes by itself when its "
                       "cause is gone")
    if alert.resolved_at is not None:
        reasons.append("the alert is already closed")
    if alert.caused_by_id is not None and alert.caused_by_id == user.id:
        reasons.append("whoever caused the alert cannot close it")
    return reasons


@user_is_actor
def close_alert(alert: Alert, user: User, investigation: str) -> Alert:
    """Close an event alert with a written investigation (SPEC §3b last bullet): only a
    role the kind names (QA for identity mismatches and post-release events), never the
    person who caused the alert."""
    if not investigation or not investigation.strip():
        raise BadRequest("Closing an alert needs the written investigation.",
                         details={"fields": {"investigation": "required"}})
    spec = alert_kind(alert.kind)
    if spec.closing_roles and user.role not in spec.closing_roles:
        raise Forbidden(f"Only {' or '.join(sorted(spec.closing_roles))} can close a "
                        f"{alert.kind.replace('_', ' ')} alert.",
                        details={"required_roles": sorted(spec.closing_roles),
                                 "role": user.role})
    reasons = closing_refusals(alert, user)
    if reasons:
        raise Conflict("The alert cannot be closed by you.", reasons)
    alert.investigation = investigation.strip()
    alert.closed_by_id = user.id
    alert.resolved_at = clock.utcnow()
    alert.resolution = "closed after investigation"
    db.session.flush()
    return alert


def list_alerts(kind: str | None = None, open_only: bool | None = None,
                batch_id: int | None = None, limit: int = 200) -> list[Alert]:
    """Open before resolved; the most urgent kind (severity 0) first even once acknowledged
    (acknowledging does not end it); then unacknowledged first, most urgent first, newest
    first."""
    query = select(Alert).options(selectinload(Alert.caused_by), selectinload(Alert.closed_by))
    if kind:
        query = query.where(Alert.kind == kind)
    if open_only is True:
        query = query.where(Alert.resolved_at.is_(None))
    elif open_only is False:
        query = query.where(Alert.resolved_at.is_not(None))
    if batch_id is not None:
        query = query.where(Alert.batch_id == batch_id)
    query = query.order_by(Alert.resolved_at.is_not(None), case((Alert.severity == 0, 0), else_=1),
                           Alert.acknowledged_at.is_not(None), Alert.severity,
                           Alert.opened_at.desc(), Alert.id.desc())
    return list(db.session.scalars(query.limit(limit)))
