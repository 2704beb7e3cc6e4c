"""Extensions, created unbound here and bound in :func:`lims.create_app`."""

from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest import Blueprint as SmorestBlueprint
from flask_wtf.csrf import CSRFProtect
from webargs.flaskparser import FlaskParser

from lims.schemas import ErrorSchema


class LimsParser(FlaskParser):
    """Bad input is a 400 (SPEC §7), not webargs' default 422."""

    DEFAULT_VALIDATION_STATUS = 400


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = LimsParser()


class LimsApi(Api):
    """flask-smorest's Api, documenting our error body; errors are handled by lims.errors."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:  # lims.errors owns error handling
        return None


login_manager = LoginManager()
csrf = CSRFProtect()
migrate = Migrate()


def rest_api(app) -> LimsApi:
    """The app's REST API object (one per app, so several test apps never share a spec)."""
    return app.extensions["lims_api"]
