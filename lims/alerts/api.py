"""API: list, acknowledge and close alerts (SPEC §2 Alert, §3b, §7)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from lims.alerts import services
from lims.alerts.registry import alert_kind, alert_kinds
from lims.auth.guard import current_actor_user, role_required
from lims.extensions import ApiBlueprint
from lims.schemas import StrictSchema, text

blp = ApiBlueprint("api_alerts", __name__, url_prefix="/api/v1", description="Alerts")


def _known_kind(value: str) -> None:
    """Kinds are registered by the feature packages (lims.alerts.registry)."""
    known = sorted(alert_kinds())
    if value not in known:
        raise ValidationError(f"one of {', '.join(known)}")


class AlertQuerySchema(StrictSchema):
    kind = fields.String(validate=[validate.Length(1, 32), _known_kind],
                         metadata={"description": "an alert kind (SPEC §2 Alert)"})
    open = fields.Boolean()
    batch_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


def _username(user) -> str | None:
    return user.username if user is not None else None


class AlertSchema(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    batch_id = fields.Integer(allow_none=True)
    summary = fields.String()
    severity = fields.Integer(metadata={"description": "0 is the most urgent"})
    opened_at = fields.DateTime()
    caused_by = fields.Function(lambda a: _username(a.caused_by), allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledgement = fields.String(allow_none=True)
    closed_by = fields.Function(lambda a: _username(a.closed_by), allow_none=True)
    investigation = fields.String(allow_none=True)
    closing = fields.Function(lambda a: alert_kind(a.kind).closing.value,
                              metadata={"description": "cause_gone (the sweep resolves it) | "
                                                       "investigation (QA closes it)"})


class AcknowledgeSchema(StrictSchema):
    comment = text(2000)


class CloseSchema(StrictSchema):
    investigation = text(10000, metadata={"description": "what was found and done"})


@blp.route("/alerts", methods=["GET"], endpoint="list_alerts")
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertSchema(many=True))
def list_alerts(query):
    """Alerts: open first; among them the most urgent kind (severity 0) first, even once
    acknowledged; then unacknowledged first, most urgent and newest first."""
    return services.list_alerts(query.get("kind"), query.get("open"), query.get("batch_id"),
                                query["limit"])


@blp.route("/alerts/<int:alert_id>", methods=["GET"], endpoint="get_alert")
@blp.response(200, AlertSchema)
def get_alert(alert_id):
    return services.get_alert(alert_id)


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"], endpoint="acknowledge")
@blp.alt_response(409, description="The alert is already acknowledged")
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertSchema)
def acknowledge(data, alert_id):
    """Acknowledge with a comment; it never resolves the alert."""
    return services.acknowledge(services.get_alert(alert_id), current_actor_user(),
                                data["comment"])


@blp.route("/alerts/<int:alert_id>/close", methods=["POST"], endpoint="close")
@role_required("qa")
@blp.arguments(CloseSchema)
@blp.response(200, AlertSchema)
@blp.alt_response(409, description="Not closed by investigation, already closed, or the "
                                   "caller caused it; details.reasons")
def close(data, alert_id):
    """QA closes an identity-mismatch or post-release alert with a written investigation
    (SPEC §3b); never the person who caused it."""
    return services.close_alert(services.get_alert(alert_id), current_actor_user(),
                                data["investigation"])
