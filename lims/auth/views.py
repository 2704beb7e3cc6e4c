"""Web pages: log in, log out, account administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from lims.auth import services
from lims.auth.forms import ActionForm, LoginForm, UserForm
from lims.auth.guard import role_required, start_session_clock
from lims.errors import DomainError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative targets, never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("web.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data)
        except DomainError as refusal:
            flash(refusal.message, "error")
            status = refusal.status
        else:
            login_user(user)
            start_session_clock()
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/admin/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        user = services.create_user(form.username.data, form.full_name.data, form.role.data,
                                    form.password.data)
        flash(f"Account {user.username} created.", "success")
        return redirect(url_for("auth.users"))
    if request.method == "POST":
        status = 400
    return render_template("auth/users.html", form=form, users=services.list_users(),
                           action=ActionForm()), status


@bp.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@role_required("admin")
def unlock(user_id: int):
    if ActionForm().validate_on_submit():
        user = services.unlock_user(services.get_user(user_id))
        flash(f"Account {user.username} unlocked.", "success")
    return redirect(url_for("auth.users"))


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
@role_required("admin")
def toggle_active(user_id: int):
    if ActionForm().validate_on_submit():
        user = services.get_user(user_id)
        services.update_user(user, active=not user.active)
        flash(f"Account {user.username} {'activated' if user.active else 'deactivated'}.",
              "success")
    return redirect(url_for("auth.users"))
