"""QA pages of SPEC §3b, "a release stays true, or stops the product": the recall (start it
with a signature, account for every dose by scanning its label, notify sites and treating
physicians, close it with a signature), the look-back from a QC result, and the physician's
notification of what an exceptional release waited for.

Routes live on the ``qc`` blueprint (:mod:`qc.views`); each form is one call of
:func:`lims.web.forms.submit` with the API's schema and the same service as the API. The
bench pages of ``batches`` show what is ours through page sections (registered in
``qc.init_app``): the recall on the batch and dose banners, QA's next steps, and on the
review page the recall, the follow-ups and the look-back links.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from batches import services as batch_services
from batches.lifecycle import BatchStatus
from batches.lookback import dose_whereabouts, lookback_from
from batches.models import Batch, Dose
from lims.auth import User, current_actor_user, role_required
from lims.db import db
from lims.errors import DomainError
from lims.extension_points import resolve_scan
from lims.web.forms import Done, InvalidForm, now_local_input, submit
from qc import services
from qc.models import NotificationKind, NotificationMethod, Recall, RecallStatus
from qc.recall import CLOSE_ACT, RECALL_ACT
from qc.schemas import (
    AcknowledgementSchema,
    DispositionSchema,
    NotificationCreateSchema,
    PhysicianNotificationSchema,
    RecallCloseSchema,
    RecallSchema,
)
from qc.views import bp

WRITERS = ("technician", "qa")
RECALLABLE = (BatchStatus.released, BatchStatus.release_suspended)


def _recall_of(batch: Batch) -> Recall | None:
    return db.session.scalar(select(Recall).where(Recall.batch_id == batch.id))


def _recall_url(batch_id: int) -> str:
    return url_for("qc.recall_page", batch_id=batch_id)


# -- sections on the bench pages and the review page ------------------------------------------


def batch_banner(context: dict[str, Any]) -> str | None:
    """In the batch page's suspension/recall banner: the recall (who, when, why) and QA's
    way out of a suspension (re-release on the review page, or recall)."""
    batch = context.get("batch")
    if batch is None:
        return None
    return render_template("qc/_release_banner.html", batch=batch, recall=_recall_of(batch),
                           user=current_actor_user())


def dose_banner(context: dict[str, Any]) -> str | None:
    """In the dose page's recall banner: what the recall records of this dose."""
    dose: Dose | None = context.get("dose")
    if dose is None or dose.batch.status != BatchStatus.recalled:
        return None
    recall = _recall_of(dose.batch)
    entry = next((rd for rd in recall.doses if rd.dose_id == dose.id), None) if recall else None
    return render_template("qc/_release_banner.html", batch=dose.batch, recall=recall,
                           entry=entry, user=current_actor_user())


def review_section(context: dict[str, Any]) -> str | None:
    """On the review page: the recall (or the way to start one), the follow-ups of an
    exceptional release with the physician's notification, and the look-back from each
    QC result."""
    batch = context.get("batch")
    if batch is None:
        return None
    info = context.get("info") or services.batch_release_info(batch)
    results = context.get("results")
    if results is None:
        results = services.list_results(batch)
    exceptional = info.get("exceptional_release") or {}
    return render_template("qc/_review_post_release.html", batch=batch,
                           recall=_recall_of(batch), user=current_actor_user(),
                           follow_ups=exceptional.get("follow_ups", []), results=results,
                           methods=list(NotificationMethod), now_local=now_local_input())


# -- starting a recall ------------------------------------------------------------------------


def _recall_start_page(batch_id: int, status: int = 200, errors: dict | None = None
                       ) -> ResponseReturnValue:
    batch = batch_services.get_batch(batch_id)
    return render_template(
        "qc/recall_new.html", batch=batch, recallable=batch.status in RECALLABLE,
        doses=[dose_whereabouts(d) for d in batch.doses],
        suspensions=batch_services.open_suspensions(batch), recall=_recall_of(batch),
        user=current_actor_user(), errors=errors or {}, form=request.form,
        act=RECALL_ACT), status


@bp.route("/qc/batches/<int:batch_id>/recall/new", methods=["GET", "POST"])
def recall_start(batch_id: int) -> ResponseReturnValue:
    """What the recall will find (each dose's place and holder), the reason and QA's
    signature (SPEC §3b)."""
    return submit(RecallSchema(), lambda data, user: services.recall_batch(
                      batch_services.get_batch(batch_id), data["password"], data["meaning"],
                      data["reason"], user, username=data.get("username")),
                  roles=("qa",),
                  done=lambda recall: Done(
                      f"Batch {recall.batch.batch_number} recalled: no dose may be given. "
                      "Account for every dose below.", _recall_url(batch_id), "warning"),
                  page=partial(_recall_start_page, batch_id))


# -- the recall record ------------------------------------------------------------------------


def _recall_page(batch_id: int, status: int = 200, errors: dict | None = None,
                 refusal: DomainError | None = None) -> ResponseReturnValue:
    batch = batch_services.get_batch(batch_id)
    recall = services.get_recall(batch)
    record = services.recall_record(recall)
    return render_template(
        "qc/recall.html", batch=batch, recall=recall, record=record,
        administered=[d for d in record["doses"] if d["administered"]],
        user=current_actor_user(), errors=errors or {}, refusal=refusal, form=request.form,
        kinds=list(NotificationKind), methods=list(NotificationMethod),
        now_local=now_local_input(), open=recall.status == RecallStatus.open,
        close_act=CLOSE_ACT), status


@bp.route("/qc/batches/<int:batch_id>/recall")
def recall_page(batch_id: int) -> ResponseReturnValue:
    """The recall record: each dose's last place, holder and site, its disposition, the
    notifications, and what is still missing before QA can close it."""
    return _recall_page(batch_id)


def _dispose_scanned(batch_id: int, data: dict[str, Any], user: User):
    """The dose is the one whose label was scanned; it must be a dose of this recall."""
    hit = resolve_scan(data["scanned_code"])
    if hit is None or hit.type != "dose":
        raise InvalidForm({"scanned_code": ["not a dose label: scan the dose label's 2-D code"]})
    dose = batch_services.get_dose(hit.id)
    if dose.batch_id != batch_id:
        raise InvalidForm({"scanned_code": [f"that label is dose {dose.code} of batch "
                                            f"{dose.batch.batch_number}, not of this recall"]})
    return services.record_disposition(dose, data, user)


@bp.route("/qc/batches/<int:batch_id>/recall/disposition", methods=["POST"])
@role_required(*WRITERS)
def recall_disposition(batch_id: int) -> ResponseReturnValue:
    """A recalled dose returned or disposed, identified by scanning its label."""
    return submit(DispositionSchema(), partial(_dispose_scanned, batch_id),
                  done=lambda entry: Done(f"Dose {entry.dose.code}: {entry.disposition}.",
                                          _recall_url(batch_id)),
                  page=partial(_recall_page, batch_id),
                  on_refusal=lambda refusal: _recall_page(batch_id, refusal.status,
                                                          refusal=refusal))


@bp.route("/qc/batches/<int:batch_id>/recall/notifications", methods=["POST"])
@role_required("qa")
def recall_notification(batch_id: int) -> ResponseReturnValue:
    """A site, or the treating physician of a dose already given, told of the recall."""
    return submit(NotificationCreateSchema(), lambda data, user: services.record_notification(
                      services.get_recall(batch_services.get_batch(batch_id)), data, user),
                  done=lambda notification: Done(
                      f"Notification of {notification.recipient} recorded.",
                      _recall_url(batch_id) + "#notifications"),
                  page=partial(_recall_page, batch_id))


@bp.route("/qc/recall-notifications/<int:notification_id>/acknowledge", methods=["POST"])
@role_required("qa")
def recall_acknowledgement(notification_id: int) -> ResponseReturnValue:
    """Who acknowledged a recall notification, and when."""
    notification = services.get_notification(notification_id)
    batch_id = notification.recall.batch_id
    return submit(AcknowledgementSchema(), lambda data, user: (
                      services.acknowledge_notification(notification, data, user)),
                  done=lambda n: Done(f"Acknowledged by {n.acknowledged_by}.",
                                      _recall_url(batch_id) + "#notifications"),
                  page=partial(_recall_page, batch_id))


@bp.route("/qc/batches/<int:batch_id>/recall/close", methods=["POST"])
@role_required("qa")
def recall_close(batch_id: int) -> ResponseReturnValue:
    """QA's closing signature, once every dose is accounted for (409 listing what is not)."""
    return submit(RecallCloseSchema(), lambda data, user: services.close_recall(
                      services.get_recall(batch_services.get_batch(batch_id)),
                      data["password"], data["meaning"], data.get("summary"), user,
                      username=data.get("username")),
                  done=Done("Recall closed: every dose is accounted for.",
                            _recall_url(batch_id)),
                  page=partial(_recall_page, batch_id))


# -- exceptional release: what it waited for has arrived ---------------------------------------


def _follow_up_page(follow_up_id: int, status: int = 200, errors: dict | None = None
                    ) -> ResponseReturnValue:
    follow_up = services.get_follow_up(follow_up_id)
    return render_template("qc/follow_up.html", follow_up=follow_up,
                           batch=follow_up.exceptional_release.batch,
                           methods=list(NotificationMethod), user=current_actor_user(),
                           errors=errors or {}, form=request.form,
                           now_local=now_local_input()), status


@bp.route("/qc/exceptional-release-follow-ups/<int:follow_up_id>", methods=["GET", "POST"])
def follow_up_page(follow_up_id: int) -> ResponseReturnValue:
    """A result an exceptional release waited for, and the physician's notification of it
    (who, how, when; QA records it)."""
    return submit(PhysicianNotificationSchema(), lambda data, user: services.notify_physician(
                      services.get_follow_up(follow_up_id), data, user),
                  roles=("qa",),
                  done=lambda follow_up: Done(
                      f"Notification of {follow_up.physician_name} recorded.",
                      url_for("qc.batch_review",
                              batch_id=follow_up.exceptional_release.batch_id)
                      + "#post-release"),
                  page=partial(_follow_up_page, follow_up_id))


# -- look-back from a QC result ------------------------------------------------------------------


@bp.route("/qc/qc-results/<int:result_id>/lookback")
def result_lookback(result_id: int) -> ResponseReturnValue:
    """Every collection, batch and dose derived from the result's batch (SPEC §3b)."""
    result = services.get_result(result_id)
    return render_template("batches/lookback.html",
                           lookback=lookback_from("qc_result", result.id),
                           back=(f"the review of {result.batch.batch_number}",
                                 url_for("qc.batch_review", batch_id=result.batch_id)
                                 + f"#result-{result.id}"))
