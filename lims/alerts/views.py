"""Alerts on the dashboard and their own page: acknowledge any open alert (it was seen);
close an event alert with a written investigation (QA, never whoever caused it).

The core names no kind: what a row offers comes from the kind's registered spec
(:mod:`lims.alerts.registry`: severity, closing rule, closing roles)."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from lims.alerts import services
from lims.alerts.api import AcknowledgeSchema, CloseSchema
from lims.alerts.models import Alert
from lims.alerts.registry import alert_kinds
from lims.auth.forms import ActionForm
from lims.auth.guard import current_actor_user
from lims.auth.models import User
from lims.errors import BadRequest
from lims.extension_points import entity_url
from lims.web.forms import Done, flash_refusal, refuse_on_error_page, submit

bp = Blueprint("alerts", __name__)


def alert_rows(alerts: list[Alert], user: User) -> list[dict[str, Any]]:
    """Each alert with its kind's spec and what ``user`` may do with it: acknowledge it,
    close it with an investigation, or why they cannot close it."""
    kinds = alert_kinds()
    rows = []
    for alert in alerts:
        spec = kinds.get(alert.kind)
        closable = spec is not None and spec.closed_by_investigation and alert.is_open
        why_not: list[str] = []
        if closable and spec is not None:
            if spec.closing_roles and user.role not in spec.closing_roles:
                why_not.append(f"only {' or '.join(sorted(spec.closing_roles))} closes it, "
                               "with a written investigation")
            why_not += [r for r in services.closing_refusals(alert, user)
                        if "already closed" not in r]
        rows.append({"alert": alert, "label": (spec.label if spec and spec.label
                                               else alert.kind.replace("_", " ")),
                     "urgent": alert.severity == 0, "closable": closable,
                     "may_close": closable and not why_not, "why_not": why_not,
                     "link": entity_url("batch", alert.batch_id) if alert.batch_id
                     else entity_url(alert.entity_type, alert.entity_id)})
    return rows


def dashboard_panel(user: User) -> str:
    alerts = services.list_alerts(open_only=True, limit=50)
    return render_template("alerts/panel.html", rows=alert_rows(alerts, user),
                           action=ActionForm(), errors={})


def _index_page(status: int = 200, errors: dict | None = None) -> ResponseReturnValue:
    user = current_actor_user()
    show = request.args.get("show", "open")
    alerts = services.list_alerts(open_only=None if show == "all" else True)
    return render_template("alerts/index.html", rows=alert_rows(alerts, user), show=show,
                           action=ActionForm(), errors=errors or {}, form=request.form), status


@bp.route("/alerts")
def index() -> ResponseReturnValue:
    return _index_page()


def _comment_required(_status: int, _errors: dict) -> NoReturn:
    raise BadRequest("Acknowledging an alert needs a comment.",
                     details={"fields": {"comment": "required"}})


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
def acknowledge(alert_id: int) -> ResponseReturnValue:
    """From the dashboard or the alerts page, and back there; a refusal shows the error page."""
    return submit(AcknowledgeSchema(), lambda data, user: services.acknowledge(
                      services.get_alert(alert_id), user, data["comment"]),
                  done=Done("Alert acknowledged.", request.referrer or url_for("alerts.index")),
                  page=_comment_required, on_refusal=refuse_on_error_page)


@bp.route("/alerts/<int:alert_id>/close", methods=["POST"])
def close(alert_id: int) -> ResponseReturnValue:
    """Close an event alert with a written investigation (SPEC §3b): the kind's closing
    roles only (403 for others), never whoever caused it (409). A refusal shows the alerts
    page with the reasons."""
    return submit(CloseSchema(), lambda data, user: services.close_alert(
                      services.get_alert(alert_id), user, data["investigation"]),
                  done=Done("Alert closed after investigation.",
                            request.referrer or url_for("alerts.index")),
                  page=_index_page,
                  on_refusal=lambda refusal: _index_page(flash_refusal(refusal)))
