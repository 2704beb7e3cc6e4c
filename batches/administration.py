"""Administration at the bedside: the last identity check of the chain (SPEC §5).

Before a dose is given, its label and the patient are checked against each
other. Every failed check is an identity mismatch: the dose label scanned is
not this dose's; the patient code or date of birth is not the intended
recipient's; the batch's release does not hold (not released, suspended,
recalled, or its signed record changed — SPEC §3b), or the dose is rejected,
disposed or already given; the dose has expired (its effective expiry: the
post-thaw expiry of a thawed dose when earlier, SPEC §2). A mismatch is refused
(409 with every reason), written to the audit trail and raises an
``identity_mismatch`` alert — both kept although the request fails. A dose that
is where it cannot yet be given (e.g. still stored at the facility, or a
cryopreserved dose not thawed) is refused too, and audited, but that is a
custody problem, not an identity one, so it raises no alert.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from batches.alerts import BatchAlert
from batches.batch_records import release_problems
from batches.common import refuse_future
from batches.custody import (
    append_event,
    dose_refusals,
    last_event,
    lock_dose,
    release_block_note,
    scan_problem,
)
from batches.custody_rules import event_refusals
from batches.models import CustodyEvent, Dose
from lims import audit, clock
from lims.alerts.services import Cause, raise_alert
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import keep_despite_error
from lims.errors import Conflict

ADMINISTERED = "administered"


def identity_mismatches(dose: Dose, scanned_code: str, patient_code: str,
                        patient_date_of_birth: date) -> list[str]:
    """Every identity check that fails (SPEC §5): label, patient, release, expiry."""
    reasons: list[str] = []
    problem = scan_problem(dose, scanned_code)
    if problem:
        reasons.append(problem)
    recipient = dose.batch.recipient
    if patient_code.strip() != recipient.code:
        reasons.append(f"patient code {patient_code.strip()!r} is not the dose's intended "
                       "recipient")
    if patient_date_of_birth != recipient.date_of_birth:
        reasons.append(f"date of birth {patient_date_of_birth.isoformat()} is not the intended "
                       "recipient's")
    return reasons + giving_refusals(dose)


def giving_refusals(dose: Dose) -> list[str]:
    """Why the dose may not be given to anyone now, wherever it is (SPEC §3b, §5):
    :func:`batches.custody.dose_refusals` with the full release check — not released,
    suspended (with the causes), recalled, or its signed record changed."""
    note = release_block_note(dose.batch)
    return dose_refusals(dose, [p + (f" ({note})" if note and "not released" in p else "")
                                for p in release_problems(dose.batch)])


def custody_refusals(dose: Dose, previous: CustodyEvent | None) -> list[str]:
    """Why the dose cannot be given where it is now, ``previous`` being its last custody
    event (SPEC §5): e.g. still stored at the facility, or cryopreserved and not thawed.
    The release refusals are :func:`giving_refusals`'."""
    return [r for r in event_refusals(ADMINISTERED, previous.event if previous else None,
                                      batch_status=dose.batch.status,
                                      cryopreserved=dose.cryopreserved)
            if "not released" not in r and "release is suspended" not in r
            and "recalled" not in r]  # counted by giving_refusals


def administration_blocks(dose: Dose) -> list[str]:
    """Why the dose may not be given now, whoever the patient (SPEC §3b, §5): what the
    bedside shows as soon as the dose label is scanned, before the patient is checked —
    the same reasons :func:`administer_dose` refuses with, the patient's aside."""
    return giving_refusals(dose) + custody_refusals(dose, last_event(dose))


def scanned_dose_refusals(dose: Dose, scanned_code: str) -> list[str]:
    """What the bedside shows as soon as a dose label is scanned, before the patient is
    identified (SPEC §3b, §5; empty: go on to the patient): the scan is not this dose's
    label, or the dose may not be given now (:func:`administration_blocks`). Reads only:
    the administration itself checks everything again and records a refusal."""
    problem = scan_problem(dose, scanned_code)
    return [problem] if problem else administration_blocks(dose)


@user_is_actor
def administer_dose(dose: Dose, data: dict[str, Any], user: User) -> CustodyEvent:
    """Record that ``dose`` was given to the patient after the identity check (SPEC §5).

    Refused (409) on any identity mismatch — audited, alerted and kept — or when
    the dose's custody does not allow administration yet (audited, kept).
    """
    lock_dose(dose)
    mismatches = identity_mismatches(dose, data["scanned_code"], data["patient_code"],
                                     data["patient_date_of_birth"])
    now = clock.utcnow()
    occurred_at = data.get("occurred_at") or now
    refuse_future(occurred_at, "occurred_at")
    previous = last_event(dose)
    custody = custody_refusals(dose, previous)
    if previous is not None and occurred_at < previous.occurred_at:
        custody.append(f"{occurred_at.isoformat()} is before the dose's last custody event")
    if mismatches or custody:
        attempt = {"scanned_code": [None, data["scanned_code"][:500]],
                   "patient_code": [None, data["patient_code"][:40]],
                   "patient_date_of_birth": [None, data["patient_date_of_birth"].isoformat()],
                   "reasons": [None, mismatches + custody], "user": [None, user.username]}
        audit.record("identity_mismatch" if mismatches else "administration_refused", "dose",
                     dose.id, attempt)
        if mismatches:
            raise_alert(BatchAlert.identity_mismatch, Cause(
                "dose", str(dose.id), f"Identity check failed for dose {dose.code}: "
                + "; ".join(mismatches), batch_id=dose.batch_id, caused_by_id=user.id))
        keep_despite_error()
        if mismatches:
            raise Conflict(f"Identity mismatch: dose {dose.code} must not be given.",
                           mismatches + custody, code="identity_mismatch")
        raise Conflict(f"Dose {dose.code} cannot be administered now.", custody)
    recipient = dose.batch.recipient
    return append_event(
        dose, ADMINISTERED, previous, user, now=now, occurred_at=occurred_at,
        location=data.get("location") or (previous.to_location if previous else "") or "bedside",
        scanned_code=data["scanned_code"], temperature_c=data.get("temperature_c"),
        notes=f"identity verified at the bedside: patient {recipient.code}, born "
              f"{recipient.date_of_birth.isoformat()}")
