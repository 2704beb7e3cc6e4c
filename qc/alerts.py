"""The alert kinds of the qc package, registered with the core's registry
(:mod:`lims.alerts.registry`; SPEC §2 Alert, §3b, §4).

* ``qc_pending`` — the sweep (:mod:`qc.tasks`); resolved when the tests are resulted;
* ``post_release_failure`` — a failed result or a reactive donor marker after release
  (:mod:`qc.post_release`); QA closes it with a written investigation.

``post_release_failure`` is the most urgent kind of all (severity 0).
"""

from __future__ import annotations

from enum import StrEnum

from flask import Flask

from lims.alerts.registry import AlertKindSpec, Closing, register_alert_kind


class QcAlert(StrEnum):
    qc_pending = "qc_pending"
    post_release_failure = "post_release_failure"


KINDS = (
    AlertKindSpec(QcAlert.qc_pending.value, 2, label="QC results overdue"),
    AlertKindSpec(QcAlert.post_release_failure.value, 0, Closing.investigation,
                  frozenset({"qa"}), label="Post-release failure"),
)


def init_app(app: Flask) -> None:
    for spec in KINDS:
        register_alert_kind(app, spec)
