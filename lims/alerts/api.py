"""API: list and acknowledge alerts (SPEC §7)."""

from __future__ import annotations

from marshmallow import fields, validate

from lims.alerts import services
from lims.alerts.models import AlertKind
from lims.auth.guard import current_actor_user
from lims.extensions import ApiBlueprint
from lims.schemas import StrictSchema, text

blp = ApiBlueprint("api_alerts", __name__, url_prefix="/api/v1", description="Alerts")


class AlertQuerySchema(StrictSchema):
    kind = fields.String(validate=validate.OneOf([k.value for k in AlertKind]))
    open = fields.Boolean()
    batch_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class AlertSchema(StrictSchema):
    id = fields.Integer()
    kind = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    batch_id = fields.Integer(allow_none=True)
    summary = fields.String()
    severity = fields.Integer()
    opened_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledgement = fields.String(allow_none=True)


class AcknowledgeSchema(StrictSchema):
    comment = text(2000)


@blp.route("/alerts", methods=["GET"], endpoint="list_alerts")
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertSchema(many=True))
def list_alerts(query):
    """Alerts, open and unacknowledged first, most urgent and newest first."""
    return services.list_alerts(query.get("kind"), query.get("open"), query.get("batch_id"),
                                query["limit"])


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"], endpoint="acknowledge")
@blp.alt_response(409, description="The alert is already acknowledged or resolved")
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertSchema)
def acknowledge(data, alert_id):
    """Acknowledge with a comment (an identity-mismatch alert is then resolved)."""
    return services.acknowledge(services.get_alert(alert_id), current_actor_user(),
                                data["comment"])
