"""API: read the audit trail (QA and admin)."""

from __future__ import annotations

from marshmallow import fields, validate

from lims.audit import services
from lims.auth.guard import role_required
from lims.extensions import ApiBlueprint
from lims.schemas import StrictSchema

blp = ApiBlueprint("api_audit", __name__, url_prefix="/api/v1", description="Audit trail")


class AuditQuerySchema(StrictSchema):
    entity_type = fields.String(validate=validate.Length(1, 64))
    entity_id = fields.String(validate=validate.Length(1, 64))
    after_seq = fields.Integer(load_default=0, validate=validate.Range(0, 2**62))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class AuditChangeSchema(StrictSchema):
    field = fields.String()
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class AuditEntrySchema(StrictSchema):
    id = fields.Integer()
    seq = fields.Integer()
    occurred_at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    changes = fields.List(fields.Nested(AuditChangeSchema))
    reason = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


@blp.route("/audit", methods=["GET"], endpoint="list_audit")
@role_required("qa", "admin")
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
def list_audit(query):
    """Audit entries in chain order, filtered by entity; page with ``after_seq``."""
    return [services.entry_as_dict(e) for e in services.list_entries(**query)]
