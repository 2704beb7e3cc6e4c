"""Paged API lists (SPEC §7, API contract v2, first row).

``?limit=`` (default 50, at most 500) and ``?after=<cursor>``; the answer stays a JSON
array, and a ``Link: <…>; rel="next"`` header (RFC 8288) gives the next page until the
last one. The cursor is the id of the last row of the page (rows are listed in id order),
so every row is reachable and a row added meanwhile never shifts a page::

    @blp.arguments(ChangeQuerySchema, location="query")     # a PageQuerySchema
    @blp.response(200, ChangeSchema(many=True), headers=NEXT_PAGE_HEADER)
    def list_changes(query):
        rows, more = services.list_changes(..., after=query["after"], limit=query["limit"])
        return rows, 200, next_page_link(rows, query["limit"], more)

A service pages a query with :func:`page_of`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request, url_for
from marshmallow import fields, validate
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from lims.db import db
from lims.extensions import MAX_RECORD_ID
from lims.schemas import StrictSchema

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

NEXT_PAGE_HEADER = {"Link": {
    "description": 'RFC 8288 `<url>; rel="next"`: the next page, absent on the last one',
    "schema": {"type": "string"}}}
"""``headers=`` of a paged list's ``@blp.response``."""


class PageQuerySchema(StrictSchema):
    """The paging part of a list's query string."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                           metadata={"description": f"rows per page (default {DEFAULT_LIMIT}, "
                                                    f"at most {MAX_LIMIT})"})
    after = fields.Integer(load_default=0, validate=validate.Range(0, MAX_RECORD_ID),
                           metadata={"description": "cursor: the id of the last row of the "
                                                    "previous page (as the Link header gives)"})


def page_of(query: Select[T], id_column: InstrumentedAttribute[int], *, after: int,
            limit: int) -> tuple[list[T], bool]:
    """One page of ``query`` in ``id_column`` order after the cursor, and whether more
    rows follow (one row more is read to know)."""
    rows = list(db.session.scalars(query.where(id_column > after).order_by(id_column)
                                   .limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def next_page_link(rows: list[Any], limit: int, more: bool) -> dict[str, str]:
    """The ``Link`` header of a page whose rows have ``id``s: the same request (path and
    query) with ``after`` = the last id; no header on the last page."""
    if not more or not rows:
        return {}
    values: dict[str, Any] = {**(request.view_args or {}), **{
        k: v for k, v in request.args.items() if k not in ("after", "limit")}}
    following = url_for(str(request.endpoint), **values, limit=limit, after=rows[-1].id)
    return {"Link": f'<{following}>; rel="next"'}
