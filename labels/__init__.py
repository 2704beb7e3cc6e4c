"""Labels: ISBT 128 dose and in-process labels (PDF, ZPL), printing, the chain-of-custody
report and the FHIR export (SPEC §5, §6).

See docs/LABELS.md for the choices where SPEC.md is silent.
"""

from __future__ import annotations

from flask import Flask

DEFAULTS = {
    "LABEL_WIDTH_MM": 100,  # dose label stock (SPEC §6: 100 × 100 mm by default)
    "LABEL_HEIGHT_MM": 100,
    "IN_PROCESS_LABEL_MM": (60, 30),  # collections and culture vessels
    "PRINTER_TIMEOUT": 5,  # seconds
    "FHIR_IDENTIFIER_BASE": None,  # None: urn:isbt128-fin:<FIN>:…
}


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
    from labels import api, models, views  # noqa: F401  (models: the label_print table)
    from lims.extension_points import add_section
    from lims.extensions import rest_api

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    rest_api(app).register_blueprint(api.blp)
    app.register_blueprint(views.bp)
    # The label and document buttons on the batches and QC pages.
    add_section(app, "batches.batch_page", "labels/_batch_actions.html", order=20)
    add_section(app, "batches.batch_page", "labels/_record_actions.html", order=30)
    add_section(app, "batches.dose_page", "labels/_dose_actions.html", order=20)
    add_section(app, "batches.collection_page", "labels/_collection_actions.html", order=20)
    add_section(app, "qc.batch_review", "labels/_record_actions.html", order=20)
