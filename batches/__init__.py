"""Batches: subjects and screening, collections (DIN), batches and their life cycle,
process templates, culture steps, doses and the first custody events (SPEC §2, §3, §6).

See :mod:`batches.services` for which module holds which SPEC rule.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
    from batches import alerts, api, cli, lookup, tasks, views
    from lims.extension_points import NavItem, add_nav, add_panel, add_resolver, add_seeder
    from lims.extensions import rest_api

    alerts.init_app(app)
    rest_api(app).register_blueprint(api.blp)
    app.register_blueprint(views.bp)
    add_resolver(app, lookup.resolve)
    add_panel(app, views.work_today_panel, order=10)
    add_seeder(app, cli.seed_demo_data, order=10)
    add_nav(app, NavItem("Today", "batches.work_today", order=10))
    add_nav(app, NavItem("Batches", "batches.batch_list", order=20))
    add_nav(app, NavItem("Subjects", "batches.subject_list", order=30))
    add_nav(app, NavItem("Collections", "batches.collection_list", order=40))
    add_nav(app, NavItem("Custody", "batches.custody_scan", order=50))
    add_nav(app, NavItem("Bedside", "batches.bedside", order=60))
    add_nav(app, NavItem("Templates", "batches.template_list", order=800))
    tasks.init_app(app)
