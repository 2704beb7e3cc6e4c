"""Alerts: what needs a person's attention (SPEC §2 Alert, §4 scheduler).

Feature packages compute the current causes in their ``tasks.py`` and call
:func:`lims.alerts.services.reconcile`; event-driven alerts (an identity
mismatch at the bedside) are raised with :func:`lims.alerts.services.raise_alert`.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from lims.alerts import api, views
    from lims.extension_points import add_panel
    from lims.extensions import rest_api

    rest_api(app).register_blueprint(api.blp)
    app.register_blueprint(views.bp)
    add_panel(app, views.dashboard_panel, order=10)
