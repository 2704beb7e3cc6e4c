"""Batches: subjects and screening, collections (DIN), batches and their life cycle,
process templates, culture steps, doses and the first custody events (SPEC §2, §3, §6).

See :mod:`batches.services` for which module holds which SPEC rule.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
    from batches import alerts, api, cli, lookup, signing_acts, tasks, views
    from lims.auth import add_signing_act
    from lims.extension_points import (
        NavItem,
        add_link,
        add_nav,
        add_panel,
        add_resolver,
        add_seeder,
    )
    from lims.extensions import rest_api

    alerts.init_app(app)
    rest_api(app).register_blueprint(api.blp)
    for act, (label, meanings) in signing_acts.SIGNING_ACTS.items():
        add_signing_act(app, act, label, meanings)
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
    add_nav(app, NavItem("Changes", "batches.change_list", frozenset({"admin", "qa"}),
                         order=820))
    add_panel(app, views.changes_panel, order=8)
    add_link(app, "change_proposal", _change_url)
    add_link(app, "change_proposal:process_template",
             lambda change_id: _url("batches.template_change", change_id=int(change_id)))
    tasks.init_app(app)


def _url(endpoint: str, **values) -> str | None:
    from flask import url_for

    return url_for(endpoint, **values)


def _change_url(entity_id: str) -> str | None:
    """A change's page, whatever its kind: each kind's package links its own
    (``change_proposal:<kind>``)."""
    from batches.change_control import find_change
    from lims.extension_points import entity_url

    change = find_change(int(entity_id))
    return entity_url(f"change_proposal:{change.kind.value}", entity_id) if change else None
