"""The alert kinds of the batches package, registered with the core's registry
(:mod:`lims.alerts.registry`; SPEC §2 Alert, §3b, §4, §5).

* ``overdue_step`` — the sweep (:mod:`batches.tasks`); resolved when the step is
  logged or the batch leaves culture;
* ``dose_expiring`` — the sweep; resolved when the dose is given or disposed;
* ``identity_mismatch`` — a refused bedside check (:mod:`batches.administration`);
* ``release_suspended`` — :func:`batches.batch_records.suspend_release`;
* ``lookback`` — a reactive donor marker on released products (:mod:`batches.lookback`).

The last three are event alerts: QA closes them with a written investigation.
"""

from __future__ import annotations

from enum import StrEnum

from flask import Flask

from lims.alerts.registry import AlertKindSpec, Closing, register_alert_kind


class BatchAlert(StrEnum):
    overdue_step = "overdue_step"
    dose_expiring = "dose_expiring"
    identity_mismatch = "identity_mismatch"
    release_suspended = "release_suspended"
    lookback = "lookback"


QA = frozenset({"qa"})

KINDS = (
    AlertKindSpec(BatchAlert.overdue_step.value, 1, label="Step overdue"),
    AlertKindSpec(BatchAlert.dose_expiring.value, 2, label="Dose expiring"),
    AlertKindSpec(BatchAlert.identity_mismatch.value, 1, Closing.investigation, QA,
                  label="Identity mismatch"),
    AlertKindSpec(BatchAlert.release_suspended.value, 1, Closing.investigation, QA,
                  label="Release suspended"),
    AlertKindSpec(BatchAlert.lookback.value, 1, Closing.investigation, QA, label="Look-back"),
)


def init_app(app: Flask) -> None:
    for spec in KINDS:
        register_alert_kind(app, spec)
