"""Extensions, created unbound here and bound in :func:`lims.create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_wtf.csrf import CSRFProtect
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from lims.schemas import ErrorSchema, fields_with_nul


class LimsParser(FlaskParser):
    """Bad input is a 400 (SPEC §7), not webargs' default 422; NUL characters in a JSON
    body are refused like any other bad input (query strings and forms are checked for
    every request in :func:`lims.create_app`)."""

    DEFAULT_VALIDATION_STATUS = 400

    def _load_location_data(self, *, schema, req, location):
        data = super()._load_location_data(schema=schema, req=req, location=location)
        if location == "json":
            refuse_nul(data)
        return data


MAX_JSON_DEPTH = 32
"""How deeply a JSON body may nest arrays and objects; every input of the API nests a few
levels. (Deeper bodies exhausted the parser's recursion: a 500, SPEC §8.)"""


def refuse_bad_json() -> None:
    """400 for a JSON body that no route can use, checked for every request before any route
    parses it (SPEC §8 "bad input"): not JSON (or a number of thousands of digits), nested
    deeper than :data:`MAX_JSON_DEPTH`, or holding text that is not valid Unicode (an
    unpaired surrogate, which no database stores). The size is bounded by
    ``MAX_CONTENT_LENGTH`` (413)."""
    import json

    from flask import request

    from lims.errors import BadRequest

    if not request.is_json:
        return
    nested = BadRequest(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.",
                        details={"fields": {"body": f"nested deeper than {MAX_JSON_DEPTH} "
                                                    "levels"}})
    try:
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        raise nested from None
    except ValueError as error:
        raise BadRequest("The body is not valid JSON.",
                         details={"fields": {"body": f"not valid JSON: {error}"[:200]}}) from None
    depth, not_unicode = _inspect_json(body)
    if depth > MAX_JSON_DEPTH:
        raise nested
    if not_unicode:
        raise BadRequest("Text must be valid Unicode.", details={"fields": {
            name: "is not valid Unicode (an unpaired surrogate)" for name in not_unicode}})


def _inspect_json(body: object) -> tuple[int, list[str]]:
    """How deeply arrays and objects nest in ``body``, and where a key or a string is not
    valid Unicode (named as the field path, the bad characters shown as ``?``) — walked
    without recursion."""
    deepest, broken = 0, []
    pending: list[tuple[object, int, str]] = [(body, 1, "")]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                broken.append(path or "body")
            continue
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            for key, child in item.items():
                name = f"{path}.{_shown(key)}" if path else _shown(key)
                if not _is_unicode(key):
                    broken.append(name)
                else:
                    pending.append((child, depth + 1, name))
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1, f"{path}[{index}]")
                           for index, child in enumerate(item))
    return deepest, broken


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def refuse_nul(data) -> None:
    """400 naming the fields when request data holds a NUL character."""
    from lims.errors import BadRequest

    found = fields_with_nul(data)
    if found:
        raise BadRequest("Text may not contain NUL characters.",
                         details={"fields": {name: "contains a NUL character" for name in found}})


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = LimsParser()

    def alt_response(self, status_code, response=None, *, schema=None, **kwargs):
        """An error response (4xx) documents the error body unless told otherwise, so
        clients and the API fuzz tests can rely on its shape."""
        if response is None and schema is None and int(status_code) >= 400:
            schema = ErrorSchema
        return super().alt_response(status_code, response, schema=schema, **kwargs)


ERROR_STATUSES = {
    400: "Bad input: details.fields names each field",
    401: "No token, or an unknown, expired or revoked one (or the account is locked or "
         "inactive)",
    403: "The caller's role may not do this, or the caller must change their password "
         "first (error password_change_required)",
    404: "No such record",
}


class LimsApi(Api):
    """flask-smorest's Api, documenting our error body; errors are handled by lims.errors.

    Every operation documents the error statuses it can answer (SPEC §7) instead of
    flask-smorest's catch-all ``default`` response, so that a client (and the API fuzz
    test's status-code check) knows them: 401 on every authenticated operation, 403 where
    a role is required or a password must be changed first (every authenticated
    operation), 404 on a path with an id, 400 where there is a body or a query.
    Statuses a view documents itself (409, 423, 503, a more precise 400…) are kept.
    """

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:  # lims.errors owns error handling
        return None

    def register_blueprint(self, blp, *, parameters=None, **options):
        super().register_blueprint(blp, parameters=parameters, **options)
        self._document_error_statuses(options.get("name", blp.name))

    def _document_error_statuses(self, blp_name: str) -> None:
        from flask_smorest.spec.plugins import FlaskPlugin

        from lims.auth.guard import PUBLIC_ENDPOINTS

        paths = self.spec._paths  # apispec's registered paths: path → method → operation
        for rule in self._app.url_map.iter_rules():
            if not rule.endpoint.startswith(f"{blp_name}."):
                continue
            path = FlaskPlugin.flaskpath2openapi(rule.rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                operation = paths.get(path, {}).get(method.lower())
                if operation is None:
                    continue
                statuses = []
                if operation.get("requestBody") or any(
                        p.get("in") == "query" for p in operation.get("parameters", [])):
                    statuses.append(400)
                if rule.endpoint not in PUBLIC_ENDPOINTS:
                    # 403 too: a one-time password must be changed first (SPEC §8)
                    statuses += [401, 403]
                if rule.arguments:
                    statuses.append(404)
                responses = operation.setdefault("responses", {})
                for status in statuses:
                    responses.setdefault(str(status), {
                        "description": ERROR_STATUSES[status],
                        "content": {"application/json": {
                            "schema": {"$ref": "#/components/schemas/Error"}}}})


MAX_RECORD_ID = 2**31 - 1
"""Ids are 32-bit integer columns (PostgreSQL ``integer``)."""


class RecordIdConverter(IntegerConverter):
    """``<int:…>`` in every route: a record id, 0 … 2³¹−1. A larger number names no record
    (404) instead of overflowing the database driver (a 500 on SQLite and PostgreSQL)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_RECORD_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()


def rest_api(app) -> LimsApi:
    """The app's REST API object (one per app, so several test apps never share a spec)."""
    return app.extensions["lims_api"]
