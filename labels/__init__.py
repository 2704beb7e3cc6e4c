"""Labels: ISBT 128 dose and in-process labels (PDF, ZPL), printing, the chain-of-custody
report and the FHIR export (SPEC §5, §6).

See docs/LABELS.md for the choices where SPEC.md is silent.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
    from labels import models  # noqa: F401  (the label_print table)
