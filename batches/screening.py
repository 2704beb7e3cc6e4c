"""Subjects, recipient screening and donor eligibility (SPEC §2).

* Recipient screening (patients only): any of the six contraindications →
  ``contraindicated``; none → ``cleared``; never screened → ``unscreened``.
  A later screening replaces the earlier one as the subject's status; both stay.
* Donor screening (donors only): nine infectious-disease markers, each
  ``negative`` | ``reactive`` | ``pending``. Any reactive → ``ineligible``;
  otherwise ``incomplete`` until QA signs the eligibility determination
  (e-signature, meaning *approval*), which is refused (409) unless every marker
  is negative. A new screening (e.g. the pending results arriving) supersedes
  the earlier one and needs its own signature.

**Specimen window** (SPEC §2: the specimen is taken within 7 days of the
collection; for bone marrow up to 30 days before it). A donor's screening may
be taken before or after the donation, so the window is checked where both
dates are known:

1. when a donor's collection is registered and the donor already has a
   screening: a specimen outside that collection's window is refused (409;
   record the screening of an in-window specimen first) —
   see :func:`batches.collections.register_collection`;
2. when a screening is recorded and the donor's latest collection has no
   in-window screening yet and could still get one (collected at most 7 days
   ago): the specimen must fall in its window (409 otherwise);
3. an allogeneic batch stays quarantined unless the donor is eligible *and*
   the eligible specimen lies in the window of the batch's collection.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from batches.common import get_or_404, refuse_future
from batches.models import (
    CONTRAINDICATIONS,
    MARKERS,
    Collection,
    DonorScreening,
    DonorStatus,
    MarkerResult,
    RecipientScreening,
    RecipientStatus,
    Source,
    Subject,
    SubjectKind,
)
from lims import clock
from lims.audit.context import user_is_actor
from lims.auth.models import Meaning, User
from lims.auth.services import sign
from lims.db import db
from lims.errors import BadRequest, Conflict

SPECIMEN_AFTER = timedelta(days=7)
SPECIMEN_BEFORE = timedelta(days=7)
SPECIMEN_BEFORE_BONE_MARROW = timedelta(days=30)


# -- subjects ---------------------------------------------------------------------------


@user_is_actor
def register_subject(data: dict[str, Any], user: User) -> Subject:
    """A patient or donor with a unique pseudonymised code (SPEC §2 Subject)."""
    if data["date_of_birth"] > clock.utcnow().date():
        raise BadRequest("The date of birth is in the future.",
                         details={"fields": {"date_of_birth": ["must not be in the future"]}})
    if db.session.scalar(select(Subject.id).where(Subject.code == data["code"])) is not None:
        raise Conflict(f"The subject code {data['code']} is already registered.",
                       [f"subject code {data['code']} exists"])
    kind = SubjectKind(data["kind"])
    subject = Subject(
        code=data["code"], kind=kind, initials=data["initials"],
        date_of_birth=data["date_of_birth"], created_by_id=user.id,
        recipient_status=RecipientStatus.unscreened if kind is SubjectKind.patient
        else None,
        donor_status=DonorStatus.unscreened if kind is SubjectKind.donor else None)
    db.session.add(subject)
    db.session.flush()
    return subject


def get_subject(subject_id: int) -> Subject:
    return get_or_404(Subject, subject_id, "subject")


def list_subjects(kind: str | None = None, q: str | None = None, limit: int = 200) -> list[Subject]:
    query = select(Subject)
    if kind:
        query = query.where(Subject.kind == kind)
    if q:
        query = query.where(Subject.code.ilike(f"%{q}%"))
    return list(db.session.scalars(query.order_by(Subject.code).limit(limit)))


def latest_recipient_screening(subject: Subject) -> RecipientScreening | None:
    return db.session.scalar(select(RecipientScreening)
                             .where(RecipientScreening.subject_id == subject.id)
                             .order_by(RecipientScreening.id.desc()).limit(1))


def latest_donor_screening(subject: Subject) -> DonorScreening | None:
    return db.session.scalar(select(DonorScreening)
                             .where(DonorScreening.subject_id == subject.id)
                             .order_by(DonorScreening.id.desc()).limit(1))


# -- recipient screening ---------------------------------------------------------------


@user_is_actor
def screen_recipient(subject: Subject, contraindications: list[str], user: User
                     ) -> RecipientScreening:
    """SPEC §2: any contraindication present → contraindicated; none → cleared."""
    if subject.kind != SubjectKind.patient:
        raise Conflict("Recipient screening is for patients.",
                       [f"subject {subject.code} is a {subject.kind}, not a patient"])
    unknown = sorted(set(contraindications) - set(CONTRAINDICATIONS))
    if unknown:
        raise BadRequest("Unknown contraindication codes.",
                         details={"fields": {"contraindications": [f"unknown: {unknown}"]}})
    present = set(contraindications)
    status = RecipientStatus.contraindicated if present else RecipientStatus.cleared
    screening = RecipientScreening(subject_id=subject.id, status=status,
                                   screened_by_id=user.id,
                                   **{code: code in present for code in CONTRAINDICATIONS})
    db.session.add(screening)
    subject.recipient_status = status
    db.session.flush()
    return screening


# -- donor screening and eligibility ---------------------------------------------------


def specimen_window(collection_source: str, collected_at: datetime) -> tuple[datetime, datetime]:
    """The earliest and latest specimen time for a collection (SPEC §2)."""
    before = SPECIMEN_BEFORE_BONE_MARROW if collection_source == Source.bone_marrow \
        else SPECIMEN_BEFORE
    return collected_at - before, collected_at + SPECIMEN_AFTER


def in_window(specimen_at: datetime, collection: Collection) -> bool:
    start, end = specimen_window(collection.source, collection.collected_at)
    return start <= specimen_at <= end


def window_refusal(specimen_at: datetime, collection: Collection) -> str | None:
    if in_window(specimen_at, collection):
        return None
    start, end = specimen_window(collection.source, collection.collected_at)
    days_before = (collection.collected_at - start).days
    return (f"the donor specimen of {specimen_at:%Y-%m-%d %H:%M} UTC is outside the window of "
            f"the {collection.source.replace('_', ' ')} collection {collection.din} of "
            f"{collection.collected_at:%Y-%m-%d %H:%M} UTC ({days_before} days before to "
            f"{SPECIMEN_AFTER.days} days after; {start:%Y-%m-%d} to {end:%Y-%m-%d})")


def donor_status_of(markers: dict[str, str]) -> DonorStatus:
    """Markers alone: any reactive → ineligible; otherwise incomplete (QA signs eligible)."""
    if any(v == MarkerResult.reactive for v in markers.values()):
        return DonorStatus.ineligible
    return DonorStatus.incomplete


def _collection_awaiting_specimen(subject: Subject) -> Collection | None:
    """The donor's latest collection if it has no in-window screening and could still get one."""
    latest = db.session.scalar(select(Collection).where(Collection.subject_id == subject.id)
                               .order_by(Collection.collected_at.desc()).limit(1))
    if latest is None or latest.collected_at + SPECIMEN_AFTER < clock.utcnow():
        return None
    specimens = db.session.scalars(select(DonorScreening.specimen_collected_at)
                                   .where(DonorScreening.subject_id == subject.id))
    if any(in_window(at, latest) for at in specimens):
        return None
    return latest


@user_is_actor
def screen_donor(subject: Subject, specimen_collected_at: datetime, markers: dict[str, str],
                 user: User) -> DonorScreening:
    """Record a donor specimen's markers (SPEC §2 donor eligibility, specimen window rule 2)."""
    if subject.kind != SubjectKind.donor:
        raise Conflict("Donor screening is for donors.",
                       [f"subject {subject.code} is a {subject.kind}, not a donor"])
    refuse_future(specimen_collected_at, "specimen_collected_at")
    awaiting = _collection_awaiting_specimen(subject)
    if awaiting is not None:
        refusal = window_refusal(specimen_collected_at, awaiting)
        if refusal:
            raise Conflict("The specimen date is outside the allowed window.", [refusal])
    status = donor_status_of(markers)
    screening = DonorScreening(subject_id=subject.id,
                               specimen_collected_at=specimen_collected_at,
                               status=status, recorded_by_id=user.id,
                               **{m: markers[m] for m in MARKERS})
    db.session.add(screening)
    subject.donor_status = status
    db.session.flush()
    return screening


def screening_content(screening: DonorScreening) -> dict[str, Any]:
    """What an eligibility signature is bound to."""
    return {"donor_screening": screening.id, "subject": screening.subject.code,
            "specimen_collected_at": screening.specimen_collected_at,
            "markers": screening.markers}


@user_is_actor
def determine_eligibility(subject: Subject, password: str, meaning: str, user: User
                          ) -> DonorScreening:
    """QA signs the donor eligible (SPEC §2): 409 unless every marker of the latest
    screening is negative. The signature is bound to the screening's content."""
    screening = latest_donor_screening(subject)
    reasons: list[str] = []
    if subject.kind != SubjectKind.donor:
        reasons.append(f"subject {subject.code} is a {subject.kind}, not a donor")
    elif screening is None:
        reasons.append(f"donor {subject.code} has no screening")
    else:
        reasons += [f"marker {m} is reactive" for m in screening.reactive_markers]
        reasons += [f"marker {m} is still pending" for m in screening.pending_markers]
        if screening.status == DonorStatus.eligible:
            reasons.append("the donor is already signed eligible on this screening")
    if reasons or screening is None:
        raise Conflict("The donor cannot be found eligible.", reasons)
    signature = sign(user, password, meaning, "donor_screening", screening.id,
                     screening_content(screening), allowed={Meaning.approval},
                     statement=f"Donor {subject.code} eligible")
    screening.status = DonorStatus.eligible
    screening.eligibility_signature_id = signature.id
    screening.determined_at = signature.signed_at
    subject.donor_status = DonorStatus.eligible
    db.session.flush()
    return screening


def subject_age(subject: Subject, on: date | None = None) -> int:
    on = on or clock.utcnow().date()
    born = subject.date_of_birth
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
