"""Extensions, created unbound here and bound in :func:`lims.create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_wtf.csrf import CSRFProtect
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from lims.schemas import ErrorSchema


class LimsParser(FlaskParser):
    """Bad input is a 400 (SPEC §7), not webargs' default 422."""

    DEFAULT_VALIDATION_STATUS = 400


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = LimsParser()

    def alt_response(self, status_code, response=None, *, schema=None, **kwargs):
        """An error response (4xx) documents the error body unless told otherwise, so
        clients and the API fuzz tests can rely on its shape."""
        if response is None and schema is None and int(status_code) >= 400:
            schema = ErrorSchema
        return super().alt_response(status_code, response, schema=schema, **kwargs)


class LimsApi(Api):
    """flask-smorest's Api, documenting our error body; errors are handled by lims.errors."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:  # lims.errors owns error handling
        return None


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
