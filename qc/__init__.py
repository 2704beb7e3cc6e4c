"""QC and QA release: specifications, results and second-person review, deviations,
release and rejection with Part 11 signatures, review by exception (SPEC §2, §3, §8).

See :mod:`qc.services` for which module holds which SPEC rule; docs/QC.md for the
choices made where SPEC is silent.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
    from batches.batch_records import add_release_check
    from batches.lookback import add_lookback_source
    from batches.screening import add_screening_listener
    from batches.tasks import add_overdue_step_listener
    from lims.auth import add_signing_act
    from lims.extension_points import (
        NavItem,
        add_link,
        add_nav,
        add_panel,
        add_section,
        add_sweep_task,
    )
    from lims.extensions import rest_api
    from qc import alerts, api, models, post_release_views, signing_acts, tasks, views  # noqa: F401 — models: tables in the metadata
    from qc.post_release import on_screening_change
    from qc.release import release_check
    from qc.services import open_deviation_for_overdue_step, result_lookback_start

    alerts.init_app(app)
    rest_api(app).register_blueprint(api.blp)
    for act, (label, meanings) in signing_acts.SIGNING_ACTS.items():
        add_signing_act(app, act, label, meanings)
    app.register_blueprint(views.bp)
    add_nav(app, NavItem("Release queue", "qc.release_queue", frozenset({"qa"}), order=50))
    add_nav(app, NavItem("Deviations", "qc.deviation_list",
                         frozenset({"qa", "technician"}), order=60))
    add_nav(app, NavItem("Specifications", "qc.specification_list", order=810))
    add_panel(app, views.release_panel, order=5)
    add_section(app, "batches.batch_page", "qc/_batch_link.html", order=10)
    # SPEC §3b pages: the recall and QA's next steps on the bench pages' banners, the
    # recall, follow-ups and look-back on the review page.
    add_section(app, "batches.batch_page:banner", post_release_views.batch_banner)
    add_section(app, "batches.dose_page:banner", post_release_views.dose_banner)
    add_section(app, "qc.batch_review", post_release_views.review_section, order=50)
    add_overdue_step_listener(app, open_deviation_for_overdue_step)
    add_screening_listener(app, on_screening_change)
    add_release_check(app, release_check)
    add_lookback_source(app, "qc_result", result_lookback_start)
    add_sweep_task(app, "qc_pending", tasks.qc_pending, order=20)
    add_link(app, "deviation", lambda entity_id: _url("qc.deviation_page",
                                                      deviation_id=int(entity_id)))
    add_link(app, "qc_result", lambda entity_id: _result_url(entity_id))
    add_link(app, "change_proposal:qc_specification",
             lambda change_id: _url("qc.spec_change", change_id=int(change_id)))


def _url(endpoint: str, **values) -> str | None:
    from flask import url_for

    return url_for(endpoint, **values)


def _result_url(entity_id: str) -> str | None:
    from lims.db import db
    from qc.models import QcResult

    result = db.session.get(QcResult, int(entity_id))
    return _url("qc.batch_review", batch_id=result.batch_id) if result else None
