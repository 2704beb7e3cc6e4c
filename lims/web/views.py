"""The bench-terminal shell: dashboard, scan box, API docs page, health."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from lims.auth.guard import current_actor_user
from lims.extension_points import points, resolve_scan
from lims.extensions import rest_api

bp = Blueprint("web", __name__)
docs_bp = Blueprint("docs", __name__)


@bp.route("/")
def dashboard():
    user = current_actor_user()
    panels = [html for _order, panel in points().panels if (html := panel(user))]
    return render_template("web/dashboard.html", panels=panels)


@bp.route("/scan")
def scan():
    """Where the scan box lands: jump to what was scanned (SPEC §7 bench terminal)."""
    code = request.args.get("code", "")[:500]
    hit = resolve_scan(code)
    if hit is not None and hit.url:
        return redirect(hit.url)
    flash(f"Nothing is known by the code {code!r}." if code.strip() else
          "Scan or type a code.", "error")
    return render_template("web/dashboard.html", panels=[], scanned=code), 404


@docs_bp.route("/api/docs")
def api_docs():
    """A browsable page generated from /api/openapi.json (no external assets)."""
    spec = rest_api(current_app).spec.to_dict()
    return render_template("web/api_docs.html", spec=spec)


def health():
    return {"status": "ok"}


def register(app) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    app.add_url_rule("/health", "health", health)
    app.jinja_env.globals["url_for_scan"] = lambda: url_for("web.scan")
