"""Alerts on the dashboard and their own page."""

from __future__ import annotations

from typing import NoReturn

from flask import Blueprint, render_template, request, url_for

from lims.alerts import services
from lims.alerts.api import AcknowledgeSchema
from lims.auth.forms import ActionForm
from lims.auth.guard import current_actor_user
from lims.errors import BadRequest
from lims.extension_points import entity_url
from lims.web.forms import Done, refuse_on_error_page, submit

bp = Blueprint("alerts", __name__)


def dashboard_panel(_user) -> str:
    alerts = services.list_alerts(open_only=True, limit=50)
    return render_template("alerts/panel.html", alerts=alerts, entity_url=entity_url,
                           action=ActionForm())


@bp.route("/alerts")
def index():
    current_actor_user()
    show = request.args.get("show", "open")
    alerts = services.list_alerts(open_only=None if show == "all" else True)
    return render_template("alerts/index.html", alerts=alerts, show=show,
                           entity_url=entity_url, action=ActionForm())


def _comment_required(_status: int, _errors: dict) -> NoReturn:
    raise BadRequest("Acknowledging an alert needs a comment.",
                     details={"fields": {"comment": "required"}})


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
def acknowledge(alert_id: int):
    """From the dashboard or the alerts page, and back there; a refusal shows the error page."""
    return submit(AcknowledgeSchema(), lambda data, user: services.acknowledge(
                      services.get_alert(alert_id), user, data["comment"]),
                  done=Done("Alert acknowledged.", request.referrer or url_for("alerts.index")),
                  page=_comment_required, on_refusal=refuse_on_error_page)
