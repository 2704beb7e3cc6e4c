"""qc package (see STYLE.md for its scope)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this package's blueprints, commands and extension points."""
