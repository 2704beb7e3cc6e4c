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
