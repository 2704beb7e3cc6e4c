"""Subjects, recipient screening and donor eligibility (SPEC §2).

* Recipient screening (patients only): any of the six contraindications →
  ``contraindicated``; none → ``cleared``; never screened → ``unscreened``.
  A later screening replaces the earlier one as the subject's status; both stay.
* Donor screening (donors only): nine infectious-disease markers, each
  ``negative`` | ``reactive`` | ``pending``. A reactive *disqualifying* marker →
  ``ineligible``; otherwise ``incomplete`` until QA signs the eligibility
  determination (e-signature, meaning *approval*), which is refused (409) unless
  no marker is pending and none is reactive but those of
  :data:`batches.models.REACTIVE_NOT_DISQUALIFYING` (CMV, 21 CFR 1271.85(b)(2)):
  their reactive result is recorded, shown at signing and printed on the dose
  label ("CMV: reactive"), and the donor may still be signed eligible
  (:func:`donor_status_of` is the one rule). A new screening (e.g. the pending
  results arriving) supersedes the earlier one and needs its own signature.

**Specimen window** (SPEC §2: the specimen is taken within 7 days of the
collection; for bone marrow and apheresis up to 30 days before it:
:data:`SPECIMEN_BEFORE_BY_SOURCE`). A donor's screening may
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

**Results are a history** (SPEC §2): a screening row is never overwritten. A new
screening of the *same specimen* may only bring results that were pending; one
that would change a recorded result (a reactive marker "erased" by an all-negative
screening, or the reverse) is refused (409): that is a correction
(:func:`correct_donor_markers`) with a reason, which counts only once a second
person verifies it (:func:`verify_marker_correction`). Whoever recorded or
corrected the markers of the screening being signed may not sign the donor's
eligibility (four eyes), and no eligibility is signed while a correction awaits
verification.

**Autologous testing** (SPEC §2 "autologous infectious-disease testing is optional and
uses the same markers"; 21 CFR 1271.90(c)): a patient's markers are recorded with the
same service and endpoint (:func:`screen_donor`) and are a history with corrections just
the same, but they are *testing*, not donor eligibility: no specimen window, no QA
eligibility signature (refused for a patient), the subject gets no ``donor_status``, the
screening row's ``status`` stays ``incomplete`` (no determination is made), a reactive
result blocks nothing (the patient gets their own cells) and opens no look-back. What it
changes is the label and storage (:func:`autologous_testing`): a reactive marker — CMV
included — prints the biohazard legend and "WARNING: Reactive test results for <agent>"
and flags segregated storage. The change is told to the listeners with role
``autologous`` (``qc`` suspends the patient's released batches, SPEC §3b).

**After release** (SPEC §3b): every recorded screening, verified correction and
eligibility signature is told to the listeners registered with
:func:`add_screening_listener` — ``qc`` suspends the subject's released batches —
and a disqualifying reactive donor marker opens a ``lookback`` alert on each of the
donor's released batches (:mod:`batches.lookback`). A CMV-reactive result alone is a
screening change like any other (the release is suspended until QA re-releases, with
labels that now say "CMV: reactive"), not a disqualifying one.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from batches import signing_acts
from batches.common import get_or_404, refuse_future
from batches.models import (
    CONTRAINDICATIONS,
    MARKERS,
    Collection,
    CorrectionStatus,
    DonorMarkerCorrection,
    DonorScreening,
    DonorStatus,
    MarkerResult,
    RecipientScreening,
    RecipientStatus,
    Source,
    SpecimenSource,
    Subject,
    SubjectKind,
    disqualifying_markers,
)
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.auth.services import sign
from lims.auth.signing import meanings_for
from lims.config import lab_timezone
from lims.db import db
from lims.errors import BadRequest, Conflict

SPECIMEN_AFTER = timedelta(days=7)
SPECIMEN_BEFORE = timedelta(days=7)
SPECIMEN_BEFORE_BY_SOURCE: dict[Source, timedelta] = {
    Source.bone_marrow: timedelta(days=30),
    Source.apheresis: timedelta(days=30),
}
"""21 CFR 1271.80(b): the donor's specimen may be taken up to 30 days before the recovery
of bone marrow and of peripheral blood stem cells (apheresis); 7 days otherwise."""


# -- who is told of a screening change (SPEC §3b) ---------------------------------------


@dataclass(frozen=True)
class ScreeningChange:
    """A screening recorded, corrected or signed: what ``qc`` needs to judge the subject's
    released batches. ``role`` is ``donor`` | ``recipient`` | ``autologous`` (a patient's
    own infectious-disease markers, SPEC §2 autologous testing); ``action`` is ``recorded`` |
    ``corrected`` | ``eligibility``."""

    subject: Subject
    role: str
    action: str
    screening: Any
    user: User

    @property
    def reactive_markers(self) -> list[str]:
        """Every reactive marker (donor or autologous testing), disqualifying or not."""
        return (list(self.screening.reactive_markers)
                if self.role in ("donor", "autologous") else [])

    @property
    def disqualifying_markers(self) -> list[str]:
        """The reactive donor markers that make the donor ineligible (not CMV)."""
        return list(self.screening.disqualifying_markers) if self.role == "donor" else []

    @property
    def complete(self) -> bool:
        """No marker is pending any more (markers), or always (a recipient screening)."""
        return self.role == "recipient" or not self.screening.pending_markers

    @property
    def entity(self) -> tuple[str, int]:
        return (self.screening.__tablename__, self.screening.id)

    def describe(self) -> str:
        if self.role == "recipient":
            return f"recipient screening {self.screening.status}"
        if self.role == "autologous":
            verb = "recorded" if self.action == "recorded" else "corrected"
            reactive, pending = self.screening.reactive_markers, self.screening.pending_markers
            state = ("reactive: " + ", ".join(reactive) if reactive
                     else "pending: " + ", ".join(pending) if pending
                     else "all markers negative")
            return (f"autologous infectious-disease testing of the specimen of "
                    f"{self.screening.specimen_collected_at:%Y-%m-%d} {verb}, {state}")
        verb = {"recorded": "recorded", "corrected": "corrected",
                "eligibility": "signed eligible"}[self.action]
        labelled = self.screening.labelled_reactive_markers
        if self.screening.disqualifying_markers:
            state = "reactive: " + ", ".join(self.screening.disqualifying_markers)
        elif self.screening.pending_markers:
            state = "pending: " + ", ".join(self.screening.pending_markers)
        else:
            state = "all other markers negative" if labelled else "all markers negative"
        if labelled:
            state += "; reactive, not disqualifying: " + ", ".join(labelled)
        return f"specimen of {self.screening.specimen_collected_at:%Y-%m-%d} {verb}, {state}"


ScreeningListener = Callable[[ScreeningChange], None]
_LISTENERS_KEY = "batches_screening_listeners"


def add_screening_listener(app: Flask, listener: ScreeningListener) -> None:
    """Call ``listener(change)`` in the same transaction after every screening change
    (``qc`` suspends released batches; ``batches`` never imports ``qc``)."""
    app.extensions.setdefault(_LISTENERS_KEY, []).append(listener)


def _changed(change: ScreeningChange) -> None:
    db.session.flush()
    if change.role == "donor" and change.disqualifying_markers:
        from batches.lookback import open_lookback_alerts

        open_lookback_alerts(change.subject, change.disqualifying_markers, change.user,
                             entity=change.entity)
    for listener in current_app.extensions.get(_LISTENERS_KEY, []):
        listener(change)


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
    _changed(ScreeningChange(subject, "recipient", "recorded", screening, user))
    return screening


# -- donor screening and eligibility ---------------------------------------------------


def specimen_window(collection_source: str, collected_at: datetime) -> tuple[datetime, datetime]:
    """The earliest and latest specimen time for a collection (SPEC §2)."""
    before = SPECIMEN_BEFORE_BY_SOURCE.get(Source(collection_source), SPECIMEN_BEFORE)
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


def lab_date(moment: datetime) -> date:
    """The day of ``moment`` on the lab's calendar (an age is counted in the lab's days)."""
    return moment.astimezone(lab_timezone()).date()


def one_month_after(day: date) -> date:
    """The same day one calendar month later (the month's last day when it is shorter)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def specimen_source_for(date_of_birth: date, on: date) -> SpecimenSource:
    """Whose specimen is tested for a donor on ``on`` (the recovery; the specimen's date
    while no recovery is known): 21 CFR 1271.80(b) — for a donor one month old or
    younger, the birth mother's; otherwise the donor's own."""
    if on <= one_month_after(date_of_birth):
        return SpecimenSource.birth_mother
    return SpecimenSource.donor


def specimen_source_refusal(source: str, date_of_birth: date, on: date) -> str | None:
    """Why a specimen of ``source`` is the wrong one for a donor on ``on`` (None: right)."""
    needed = specimen_source_for(date_of_birth, on)
    if source == needed:
        return None
    if needed == SpecimenSource.birth_mother:
        return (f"the donor, born {date_of_birth}, is one month old or younger on {on}: the "
                "birth mother's specimen is tested, not the donor's (21 CFR 1271.80(b))")
    return (f"the donor, born {date_of_birth}, is older than one month on {on}: the donor's "
            "own specimen is tested, not the birth mother's (21 CFR 1271.80(b))")


def specimen_refusal(screening: DonorScreening, collection: Collection) -> str | None:
    """Why a donor's screening does not cover a collection (None: it does): its specimen
    is outside the collection's window, or is not the one 1271.80(b) asks for (the birth
    mother's for a donor one month old or younger at the recovery)."""
    return (window_refusal(screening.specimen_collected_at, collection)
            or specimen_source_refusal(screening.specimen_source,
                                       screening.subject.date_of_birth,
                                       lab_date(collection.collected_at)))


def donor_status_of(markers: Mapping[str, str]) -> DonorStatus:
    """Markers alone (SPEC §2, 21 CFR 1271.85(b)(2)): a reactive disqualifying marker →
    ineligible; otherwise incomplete until QA signs eligible. A reactive marker of
    :data:`batches.models.REACTIVE_NOT_DISQUALIFYING` (CMV) is recorded and labelled,
    not disqualifying."""
    if disqualifying_markers(markers):
        return DonorStatus.ineligible
    return DonorStatus.incomplete


def eligibility_refusals(markers: Mapping[str, str]) -> list[str]:
    """Why the markers alone do not let QA sign the donor eligible (SPEC §2): a reactive
    disqualifying marker, or any marker still pending (CMV included). A reactive CMV
    result is no reason (21 CFR 1271.85(b)(2))."""
    return ([f"marker {m} is reactive" for m in disqualifying_markers(markers)]
            + [f"marker {m} is still pending" for m, v in markers.items()
               if v == MarkerResult.pending])


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
                 user: User, specimen_source: str = SpecimenSource.donor) -> DonorScreening:
    """Record a specimen's markers: a donor's (SPEC §2 donor eligibility, specimen window
    rule 2) or a patient's own (SPEC §2 autologous testing, 21 CFR 1271.90(c): no window,
    no eligibility, the subject's ``donor_status`` stays empty, nothing is blocked)."""
    refuse_future(specimen_collected_at, "specimen_collected_at")
    autologous = subject.kind == SubjectKind.patient
    if not autologous:
        awaiting = _collection_awaiting_specimen(subject)
        if awaiting is not None:
            refusal = window_refusal(specimen_collected_at, awaiting)
            if refusal:
                raise Conflict("The specimen date is outside the allowed window.", [refusal])
        on = lab_date(awaiting.collected_at if awaiting is not None else specimen_collected_at)
        refusal = specimen_source_refusal(specimen_source, subject.date_of_birth, on)
        if refusal:
            raise Conflict("The specimen is not the one to test for this donor.", [refusal])
    elif specimen_source != SpecimenSource.donor:
        raise Conflict("A patient's own testing is of the patient's specimen.",
                       [f"subject {subject.code} is a patient: specimen_source must be donor "
                        "(the patient's own)"])
    _refuse_silent_replacement(subject, specimen_collected_at, markers)
    status = DonorStatus.incomplete if autologous else donor_status_of(markers)
    screening = DonorScreening(subject_id=subject.id,
                               specimen_collected_at=specimen_collected_at,
                               status=status, recorded_by_id=user.id,
                               specimen_source=SpecimenSource(specimen_source),
                               **{m: markers[m] for m in MARKERS})
    db.session.add(screening)
    if not autologous:
        subject.donor_status = status
    db.session.flush()
    _changed(ScreeningChange(subject, "autologous" if autologous else "donor", "recorded",
                             screening, user))
    return screening


@dataclass(frozen=True)
class AutologousTesting:
    """A patient's own infectious-disease testing as the labels and storage read it (SPEC §2,
    §6; 21 CFR 1271.90(c)). ``status`` is ``untested`` | ``pending`` | ``negative`` |
    ``reactive``; ``reactive_markers`` lists every reactive marker, CMV included."""

    status: str
    reactive_markers: tuple[str, ...] = ()
    pending_markers: tuple[str, ...] = ()
    screening_id: int | None = None
    specimen_collected_at: datetime | None = None

    @property
    def segregated_storage(self) -> bool:
        """A reactive autologous product is stored segregated (SPEC §2)."""
        return self.status == "reactive"


def autologous_testing_of(markers: Mapping[str, str] | None) -> AutologousTesting:
    """The pure rule: no markers → untested; any reactive (CMV too) → reactive; otherwise
    any pending → pending; all negative → negative."""
    if markers is None:
        return AutologousTesting("untested")
    reactive = tuple(m for m, v in markers.items() if v == MarkerResult.reactive)
    pending = tuple(m for m, v in markers.items() if v == MarkerResult.pending)
    status = "reactive" if reactive else "pending" if pending else "negative"
    return AutologousTesting(status, reactive, pending)


def autologous_testing(subject: Subject) -> AutologousTesting:
    """The patient's latest recorded testing (its latest screening row; a verified
    correction changes that row)."""
    screening = latest_donor_screening(subject)
    if screening is None:
        return autologous_testing_of(None)
    return replace(autologous_testing_of(screening.markers), screening_id=screening.id,
                   specimen_collected_at=screening.specimen_collected_at)


def specimen_screenings(subject: Subject, specimen_collected_at: datetime
                        ) -> list[DonorScreening]:
    """Every screening row of one specimen of the donor, oldest first."""
    return list(db.session.scalars(select(DonorScreening).where(
        DonorScreening.subject_id == subject.id,
        DonorScreening.specimen_collected_at == specimen_collected_at)
        .order_by(DonorScreening.id)))


def _refuse_silent_replacement(subject: Subject, specimen_collected_at: datetime,
                               markers: dict[str, str]) -> None:
    """SPEC §2: a newer screening of the same specimen may bring pending results, never
    change a recorded one (that is a correction, verified by a second person)."""
    rows = specimen_screenings(subject, specimen_collected_at)
    if not rows:
        return
    recorded = rows[-1]
    changed = [f"{m}: recorded {getattr(recorded, m)}, now {markers[m]}" for m in MARKERS
               if getattr(recorded, m) != MarkerResult.pending
               and markers[m] != getattr(recorded, m)]
    if changed:
        raise Conflict(
            "This specimen's results are already recorded; a change is a correction with a "
            f"reason, verified by a second person (POST /api/v1/donor-screenings/"
            f"{recorded.id}/corrections).", changed, code="correction_required")


def screening_content(screening: DonorScreening) -> dict[str, Any]:
    """What an eligibility signature is bound to."""
    return {"donor_screening": screening.id, "subject": screening.subject.code,
            "specimen_collected_at": screening.specimen_collected_at,
            "markers": screening.markers}


@user_is_actor
def determine_eligibility(subject: Subject, password: str, meaning: str, user: User, *,
                          username: str | None = None) -> DonorScreening:
    """QA signs the donor eligible (SPEC §2): 409 unless every marker of the latest
    screening is negative — or reactive but not disqualifying (CMV, 21 CFR
    1271.85(b)(2): recorded and labelled) — no correction of it awaits verification,
    and the signer neither recorded nor corrected this specimen's markers (four eyes).
    The signature is bound to the screening's content (its markers, CMV included)."""
    screening = latest_donor_screening(subject)
    reasons: list[str] = []
    if subject.kind != SubjectKind.donor:
        reasons.append(f"subject {subject.code} is a {subject.kind}, not a donor")
    elif screening is None:
        reasons.append(f"donor {subject.code} has no screening")
    else:
        reasons += eligibility_refusals(screening.markers)
        if screening.status == DonorStatus.eligible:
            reasons.append("the donor is already signed eligible on this screening")
        reasons += [f"a correction of {', '.join(sorted(c.marker_changes))} awaits "
                    f"verification (#{c.id})" for c in _corrections(screening, pending=True)]
        reasons += _four_eyes(screening, user)
    if reasons or screening is None:
        raise Conflict("The donor cannot be found eligible.", reasons)
    signature = sign(user, password, meaning, "donor_screening", screening.id,
                     screening_content(screening),
                     allowed=meanings_for(signing_acts.DONOR_ELIGIBILITY), username=username,
                     statement=f"Donor {subject.code} eligible")
    screening.status = DonorStatus.eligible
    screening.eligibility_signature_id = signature.id
    screening.determined_at = signature.signed_at
    subject.donor_status = DonorStatus.eligible
    db.session.flush()
    _changed(ScreeningChange(subject, "donor", "eligibility", screening, user))
    return screening


def _corrections(screening: DonorScreening, *, pending: bool | None = None
                 ) -> list[DonorMarkerCorrection]:
    query = select(DonorMarkerCorrection).where(
        DonorMarkerCorrection.screening_id == screening.id)
    if pending is not None:
        status = CorrectionStatus.pending if pending else CorrectionStatus.verified
        query = query.where(DonorMarkerCorrection.status == status)
    return list(db.session.scalars(query.order_by(DonorMarkerCorrection.id)))


def _four_eyes(screening: DonorScreening, user: User) -> list[str]:
    """SPEC §2: whoever recorded or corrected this specimen's markers may not sign."""
    reasons = []
    for row in specimen_screenings(screening.subject, screening.specimen_collected_at):
        if row.recorded_by_id == user.id:
            reasons.append(f"four eyes: {user.username} recorded the markers of this "
                           f"specimen (screening #{row.id})")
        reasons += [f"four eyes: {user.username} corrected the markers of this specimen "
                    f"(correction #{c.id})" for c in _corrections(row)
                    if c.corrected_by_id == user.id]
    return reasons


# -- corrections of recorded markers (SPEC §2 "results are a history") ---------------------


def get_donor_screening(screening_id: int) -> DonorScreening:
    return get_or_404(DonorScreening, screening_id, "donor screening")


def get_marker_correction(correction_id: int) -> DonorMarkerCorrection:
    return get_or_404(DonorMarkerCorrection, correction_id, "donor marker correction")


def donor_screenings(subject: Subject, after: int = 0, limit: int = 50
                     ) -> list[DonorScreening]:
    """The donor's screening history, oldest first, paged by id."""
    return list(db.session.scalars(select(DonorScreening).where(
        DonorScreening.subject_id == subject.id, DonorScreening.id > after)
        .order_by(DonorScreening.id).limit(limit)))


def marker_corrections(screening: DonorScreening) -> list[DonorMarkerCorrection]:
    return _corrections(screening)


@user_is_actor
def correct_donor_markers(screening: DonorScreening, markers: dict[str, str], reason: str,
                          user: User) -> DonorMarkerCorrection:
    """Propose a correction of recorded markers, with a reason (SPEC §2): it does not count
    until a second person verifies it. Only the latest screening of its specimen is
    corrected (earlier rows are history), one correction at a time."""
    rows = specimen_screenings(screening.subject, screening.specimen_collected_at)
    reasons = []
    if rows[-1].id != screening.id:
        reasons.append(f"screening #{screening.id} was superseded by #{rows[-1].id} for the "
                       "same specimen: correct the latest")
    if _corrections(screening, pending=True):
        reasons.append("a correction of this screening already awaits verification")
    if reasons:
        raise Conflict("The correction cannot be recorded.", reasons)
    changes = {m: [getattr(screening, m), v] for m, v in sorted(markers.items())
               if getattr(screening, m) != v}
    if not changes:
        raise BadRequest("The correction changes nothing.",
                         details={"fields": {"markers": ["no marker differs from the record"]}})
    correction = DonorMarkerCorrection(
        screening_id=screening.id, changes=json.dumps(changes), reason=reason.strip(),
        status=CorrectionStatus.pending, corrected_by_id=user.id,
        corrected_at=clock.utcnow())
    db.session.add(correction)
    db.session.flush()
    return correction


@user_is_actor
def verify_marker_correction(correction: DonorMarkerCorrection, user: User
                             ) -> DonorMarkerCorrection:
    """A second person verifies a marker correction (SPEC §2): the screening's markers
    change (audited, with the correction's reason), its status is recomputed — an
    eligibility signed on the old values no longer stands — and the change is told
    to the listeners (released batches are suspended, SPEC §3b)."""
    reasons = []
    if correction.status != CorrectionStatus.pending:
        reasons.append(f"correction #{correction.id} is already verified")
    if correction.corrected_by_id == user.id:
        reasons.append("whoever entered the correction cannot verify it")
    if reasons:
        raise Conflict("The correction cannot be verified by you.", reasons)
    screening = correction.screening
    subject = screening.subject
    stale = [m for m, (old, _new) in correction.marker_changes.items()
             if getattr(screening, m) != old]
    if stale:
        raise Conflict("The screening changed since the correction was entered.",
                       [f"marker {m} is no longer {correction.marker_changes[m][0]}"
                        for m in stale])
    with audit_reason(f"correction #{correction.id}: {correction.reason}"):
        for marker, (_old, new) in correction.marker_changes.items():
            setattr(screening, marker, new)
        autologous = subject.kind == SubjectKind.patient
        if not autologous:  # a patient's testing makes no eligibility determination
            screening.status = donor_status_of(screening.markers)
            latest = latest_donor_screening(subject)
            if latest is not None and latest.id == screening.id:
                subject.donor_status = screening.status
        correction.status = CorrectionStatus.verified
        correction.verified_by_id = user.id
        correction.verified_at = clock.utcnow()
        db.session.flush()
    _changed(ScreeningChange(subject, "autologous" if autologous else "donor", "corrected",
                             screening, user))
    return correction


def subject_age(subject: Subject, on: date | None = None) -> int:
    on = on or clock.utcnow().date()
    born = subject.date_of_birth
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
