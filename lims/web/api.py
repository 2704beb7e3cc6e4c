"""API: resolve any scanned text to the record it identifies (SPEC §7 lookup)."""

from __future__ import annotations

from marshmallow import fields

from lims.errors import NotFound
from lims.extension_points import resolve_scan
from lims.extensions import ApiBlueprint
from lims.schemas import StrictSchema, text

blp = ApiBlueprint("api_lookup", __name__, url_prefix="/api/v1", description="Scan lookup")


class LookupQuerySchema(StrictSchema):
    code = text(500)


class LookupSchema(StrictSchema):
    type = fields.String(metadata={"description": "collection | batch | dose"})
    id = fields.Integer()
    label = fields.String()


@blp.route("/lookup", methods=["GET"], endpoint="lookup")
@blp.arguments(LookupQuerySchema, location="query")
@blp.response(200, LookupSchema)
@blp.alt_response(404, description="Nothing is known by that code")
def lookup(query):
    """Any scanned barcode text → ``{type, id}`` (404 when unknown)."""
    hit = resolve_scan(query["code"])
    if hit is None:
        raise NotFound(f"Nothing is known by the code {query['code']!r}.",
                       details={"code": query["code"]})
    return hit
