"""QA pages (placeholder while the API is built)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("qc", __name__, template_folder="templates")


def release_panel(user) -> str | None:
    return None


@bp.route("/qc/release-queue")
def release_queue():
    return ""


@bp.route("/qc/deviations")
def deviation_list():
    return ""


@bp.route("/qc/deviations/<int:deviation_id>")
def deviation_page(deviation_id: int):
    return ""


@bp.route("/qc/batches/<int:batch_id>/review")
def batch_review(batch_id: int):
    return ""
