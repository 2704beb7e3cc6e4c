"""Template filters and globals every page may use: times in the lab's zone, labels,
status badges, and the page sections feature packages register
(:func:`lims.extension_points.add_section`)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup

from lims.config import lab_timezone
from lims.extension_points import page_sections

MINUTE = "%Y-%m-%d %H:%M"
"""The bench pages' time format; add ``%Z`` where the zone must show (``|local(...)``)."""

TONES = {"cleared": "good", "eligible": "good", "released": "good", "done": "good",
         "contraindicated": "bad", "ineligible": "bad", "rejected": "bad", "overdue": "bad",
         "on_hold": "warn", "incomplete": "warn", "unscreened": "warn", "pending": "",
         "qc_review": "warn", "quarantined": "warn", "cancelled": "",
         "proposed": "warn", "approved": "good", "withdrawn": "",
         "release_suspended": "bad", "recalled": "bad"}
"""The colour of a status badge: good, bad, warn or plain."""


def local(value: datetime | None, fmt: str = MINUTE) -> str:
    """A stored UTC time in the lab's configured time zone (``TIMEZONE``); ``""`` for none."""
    if value is None:
        return ""
    return value.astimezone(lab_timezone()).strftime(fmt)


def label(value: str | None) -> str:
    """A stored word as people read it: ``on_hold`` → ``on hold``."""
    return (value or "").replace("_", " ")


def status_badge(status: str | None) -> Markup:
    tone = TONES.get(status or "", "")
    css = f"badge badge-{tone}" if tone else "badge"
    return Markup('<span class="{}" data-status="{}">{}</span>').format(
        css, status or "", label(status))


def init_app(app: Flask) -> None:
    app.add_template_filter(local, "local")
    app.add_template_filter(label, "label")
    app.add_template_global(status_badge, "status_badge")
    app.add_template_global(page_sections, "page_sections")
