"""A release stays true, or stops the product (SPEC §3b): what a change after release does.

A release is a claim about the batch record at the moment of signing. The services
that change what the release signature covers call in here once their change is
flushed; this module decides, in one place, what the change means:

* a passing result of a ``follow_up`` test: expected, nothing happens;
* a result an exceptional release was waiting for (its pending sterility): recorded
  as a follow-up, for the physician's notification; a failed one is a post-release
  failure;
* any other new result (a release test, an in-process test): suspends the release;
* a failed result (any test): a **post-release failure** — suspends, a deviation
  opens (the out-of-spec one), and the most urgent alert;
* a corrected result: suspends (a failed one is a post-release failure);
* a corrected culture step: suspends (:func:`batches.culture.correct_step`);
* a deviation opened by hand: suspends;
* a donor or recipient screening recorded, corrected or signed: suspends every
  released batch of that subject; a disqualifying reactive donor marker is a
  post-release failure (and a look-back alert opens on each batch,
  :mod:`batches.lookback`); for a batch released exceptionally while the donor's
  screening was pending, non-disqualifying results and the eligibility signature that
  follows are the expected follow-up. A reactive CMV result is not disqualifying
  (SPEC §2, 21 CFR 1271.85(b)(2): :data:`batches.models.REACTIVE_NOT_DISQUALIFYING`):
  it is a screening change like a negative one, never a failure.

"Suspends" is :func:`batches.batch_records.suspend_release`: the batch becomes
``release_suspended``, its doses cannot be shipped, delivered, thawed or given,
labels carry the quarantine statement, and a ``release_suspended`` alert opens.
A batch already recalled is not suspended again; a failure on it still opens its
deviation and alert.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from batches import services as batch_services
from batches.lifecycle import RELEASED_ONCE, BatchStatus
from batches.models import Batch, Collection, DonorScreening, SuspensionCause
from batches.screening import ScreeningChange
from lims import clock
from lims.alerts.services import Cause, raise_alert
from lims.auth.models import User
from lims.db import db
from qc import deviations
from qc.alerts import QcAlert
from qc.models import (
    Deviation,
    Evaluation,
    ExceptionalFollowUp,
    ExceptionalRelease,
    FollowUpItem,
    QcResult,
    Timing,
)
from qc.release_conditions import pending_text


def released_once(batch: Batch) -> bool:
    return BatchStatus(batch.status) in RELEASED_ONCE


# -- exceptional releases: what they wait for -------------------------------------------------


def waiting_exceptional(batch: Batch, item: FollowUpItem
                        ) -> tuple[ExceptionalRelease | None, bool]:
    """The exceptional release the batch's current release rests on if it was signed
    without ``item`` (else ``None``), and whether that item has arrived since."""
    from qc.release import release_exceptional

    request = release_exceptional(batch)
    if request is None:
        return None, False
    told = json.loads(request.pending_items)
    if pending_text(item.value, batch.collection.subject.code) not in told:
        return None, False
    return request, any(f.item == item for f in request.follow_ups)


def _follow_up(request: ExceptionalRelease, item: FollowUpItem, outcome: str, failed: bool,
               *, result: QcResult | None = None,
               screening: DonorScreening | None = None) -> ExceptionalFollowUp:
    follow_up = ExceptionalFollowUp(
        exceptional_release_id=request.id, item=item, arrived_at=clock.utcnow(),
        outcome=outcome[:500], failed=failed, qc_result_id=result.id if result else None,
        donor_screening_id=screening.id if screening else None)
    db.session.add(follow_up)
    db.session.flush()
    return follow_up


# -- the failure flow --------------------------------------------------------------------------


def post_release_failure(batch: Batch, description: str, user: User | None, *,
                         entity: tuple[str, object],
                         deviation: Deviation | None = None) -> None:
    """SPEC §3b: a failure after release suspends the release, opens a deviation (unless
    the failure already opened one) and raises the most urgent alert."""
    if deviation is None:
        deviation = deviations.open_deviation_for(batch, f"Post-release failure: {description}",
                                                  user)
    batch_services.suspend_release(batch, SuspensionCause.post_release_failure, description,
                                   user, entity=entity)
    raise_alert(QcAlert.post_release_failure, Cause(
        entity[0], str(entity[1]),
        f"Post-release failure on {batch.batch_number}: {description} "
        f"(deviation DEV-{deviation.id})", batch_id=batch.id,
        caused_by_id=user.id if user is not None else None))


def _open_deviation(result: QcResult) -> Deviation | None:
    return db.session.scalar(select(Deviation).where(Deviation.qc_result_id == result.id)
                             .order_by(Deviation.id.desc()).limit(1))


# -- results -------------------------------------------------------------------------------------


def after_new_result(result: QcResult, user: User) -> None:
    """A result entered after the batch's release (``result.after_release``)."""
    batch = result.batch
    failed = result.evaluation == Evaluation.failed
    what = f"{result.test} {result.reported}"
    if result.test == "sterility":
        request, arrived = waiting_exceptional(batch, FollowUpItem.sterility)
        if request is not None and not arrived:
            _follow_up(request, FollowUpItem.sterility, f"{what}: {result.evaluation}", failed,
                       result=result)
            if failed:
                post_release_failure(batch, f"the pending {what} failed its specification",
                                     user, entity=("qc_result", result.id),
                                     deviation=_open_deviation(result))
            return
    if failed:
        post_release_failure(batch, f"{what} failed its specification after release", user,
                             entity=("qc_result", result.id), deviation=_open_deviation(result))
    elif result.spec_test.timing != Timing.follow_up:
        batch_services.suspend_release(
            batch, SuspensionCause.new_result,
            f"a new {result.test} result ({result.reported}) was entered after release", user,
            entity=("qc_result", result.id))


def after_result_corrected(result: QcResult, user: User, reason: str) -> None:
    """A result corrected while the batch is (or was) released."""
    batch = result.batch
    if not released_once(batch):
        return
    what = f"{result.test} corrected to {result.reported} ({reason})"
    if result.evaluation == Evaluation.failed:
        post_release_failure(batch, f"{what}: fails its specification", user,
                             entity=("qc_result", result.id), deviation=_open_deviation(result))
    else:
        batch_services.suspend_release(batch, SuspensionCause.result_corrected, what, user,
                                       entity=("qc_result", result.id))


def after_deviation_opened(deviation: Deviation, user: User) -> None:
    batch = deviation.batch
    if released_once(batch):
        batch_services.suspend_release(batch, SuspensionCause.deviation,
                                       f"deviation DEV-{deviation.id} opened: "
                                       f"{deviation.description}", user,
                                       entity=("deviation", deviation.id))


# -- screenings --------------------------------------------------------------------------------


def _released_batches_of_donor(donor_id: int) -> list[Batch]:
    return list(db.session.scalars(
        select(Batch).join(Collection, Collection.id == Batch.collection_id)
        .where(Collection.subject_id == donor_id, Batch.origin == "allogeneic",
               Batch.status.in_([s.value for s in RELEASED_ONCE])).order_by(Batch.id)))


def _released_batches_of_recipient(recipient_id: int) -> list[Batch]:
    return list(db.session.scalars(select(Batch).where(
        Batch.recipient_id == recipient_id,
        Batch.status.in_([s.value for s in RELEASED_ONCE])).order_by(Batch.id)))


def on_screening_change(change: ScreeningChange) -> None:
    """Registered with ``batches`` (:func:`batches.screening.add_screening_listener`)."""
    subject, user = change.subject, change.user
    if change.role in ("recipient", "autologous"):
        # a patient's own infectious-disease testing (SPEC §2, 21 CFR 1271.90(c)) is no
        # donor rule: no post-release failure, no look-back — but, like any screening of
        # the subject, it suspends their released batches (SPEC §3b) so QA re-releases
        # with labels that show it
        what = ("screening" if change.role == "recipient"
                else "infectious-disease testing")
        for batch in _released_batches_of_recipient(subject.id):
            batch_services.suspend_release(
                batch, SuspensionCause.recipient_screening,
                f"recipient {subject.code}'s {what} changed ({change.describe()})", user,
                entity=change.entity)
        return
    for batch in _released_batches_of_donor(subject.id):
        _donor_change(batch, change)


def _donor_change(batch: Batch, change: ScreeningChange) -> None:
    subject, user = change.subject, change.user
    reactive = change.disqualifying_markers  # CMV reactive is recorded, not a failure
    request, arrived = waiting_exceptional(batch, FollowUpItem.donor_screening)
    if request is not None and change.action != "corrected":
        if not arrived and change.action == "recorded" and (reactive or change.complete):
            _follow_up(request, FollowUpItem.donor_screening, change.describe(),
                       bool(reactive), screening=change.screening)
            if reactive:
                post_release_failure(batch, f"the pending screening of donor {subject.code} "
                                            f"is reactive ({', '.join(reactive)})", user,
                                     entity=change.entity)
            return
        if not reactive and (change.action == "eligibility" or not arrived):
            return  # expected: still pending, or QA signs the eligibility that arrived
    if reactive:
        post_release_failure(batch, f"donor {subject.code} reactive after release "
                                    f"({', '.join(reactive)})", user, entity=change.entity)
    else:
        batch_services.suspend_release(
            batch, SuspensionCause.donor_screening,
            f"donor {subject.code}'s screening changed ({change.describe()})", user,
            entity=change.entity)
