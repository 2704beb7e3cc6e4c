"""The core of the batch tracker: app factory, config, database, auth, audit, errors, CLI.

``create_app`` reads like a table of contents; it is the only place that knows
every feature package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Flask is imported by create_app, not by ``import lims`` (see
    from flask import Flask  # lims.audit.verify_bundle, which runs without the app)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from flask import Flask

    app = Flask(__name__, instance_relative_config=True,
                instance_path=_instance_path())
    from lims import config

    config.load(app, test_config)
    register_extensions(app)
    register_core(app)
    register_features(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def _instance_path() -> str:
    import os
    from pathlib import Path

    return os.environ.get("LIMS_INSTANCE_PATH") or str(Path(__file__).resolve().parent.parent
                                                        / "instance")


def register_extensions(app: Flask) -> None:
    from flask import request

    from lims import audit, db, http_headers
    from lims.audit import checkpoints
    from lims.extensions import (
        LimsApi,
        RecordIdConverter,
        csrf,
        migrate,
        refuse_bad_json,
        refuse_nul,
    )

    app.url_map.converters["int"] = RecordIdConverter  # before any route is added
    http_headers.init_app(app)  # first registered, so its after_request runs last
    db.init_app(app)
    audit.install()
    checkpoints.init_app(app)
    migrate.init_app(app, db.db, directory=_migrations_dir(), render_as_batch=True,
                     compare_type=True, render_item=db.render_migration_item)
    csrf.init_app(app)

    @app.before_request
    def protect_forms() -> None:
        refuse_bad_json()
        refuse_nul({**request.args.to_dict(flat=False), **request.form.to_dict(flat=False),
                    **(request.view_args or {})})
        if not request.path.startswith("/api/"):
            csrf.protect()

    rest = LimsApi(app, spec_kwargs={"info": {"description": "SPEC §7 contract. Authenticate "
                                                "with POST /api/v1/auth/tokens, then send "
                                                "Authorization: Bearer <token>."}})
    rest.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    rest.spec.options["security"] = [{"bearerAuth": []}]
    app.extensions["lims_api"] = rest


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "migrations")


def register_core(app: Flask) -> None:
    from lims import alerts, auth, scheduler
    from lims.audit import api as audit_api
    from lims.extensions import rest_api
    from lims.web import api as web_api
    from lims.web import filters, nav
    from lims.web import views as web

    auth.init_app(app)
    rest_api(app).register_blueprint(audit_api.blp)
    rest_api(app).register_blueprint(web_api.blp)
    alerts.init_app(app)
    web.register(app)
    nav.init_app(app)
    filters.init_app(app)
    scheduler.init_app(app)


def register_features(app: Flask) -> None:
    """Feature packages plug in here, lowest layer first: batches ← qc ← labels."""
    import batches
    import labels
    import qc

    for package in (batches, qc, labels):
        package.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    from lims.errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    from lims.cli import lims_cli

    app.cli.add_command(lims_cli)
