"""Web pages: log in, log out, change your password, account administration (SPEC §8)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from lims.auth import password_policy, services
from lims.auth.forms import (
    ActionForm,
    ChangePasswordForm,
    LoginForm,
    ReasonForm,
    RenameForm,
    ResetPasswordForm,
    RoleForm,
    UserForm,
)
from lims.auth.guard import begin_web_session, current_actor_user, end_web_session, role_required
from lims.errors import DomainError

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative targets, never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("web.dashboard")


def _show_refusal(form: FlaskForm | None, refusal: DomainError) -> int:
    """Flash the refusal, put each named field's problem next to that field; the status."""
    flash(refusal.message, "error")
    for name, problem in (refusal.details.get("fields") or {}).items():
        field = getattr(form, name, None) if form is not None else None
        if field is not None:
            field.errors = [*field.errors, str(problem)]
    return refusal.status


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
            begin_web_session(user)
            if services.password_change_required(user):
                flash("Choose your own password before anything else: the one you have was "
                      "set by an administrator, or is too old.", "warning")
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    end_web_session()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Every user changes their own password here; a one-time password leads here first."""
    user = current_actor_user()
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.change_own_password(user, form.current_password.data,
                                         form.new_password.data)
        except DomainError as refusal:
            status = _show_refusal(form, refusal)
        else:
            flash("Your password is changed. Your other sessions have ended.", "success")
            return redirect(url_for("web.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/change_password.html", form=form,
                           forced=services.password_change_required(user),
                           rules=password_policy.describe()), status


# -- administration -------------------------------------------------------------------------

@bp.route("/admin/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_user(form.username.data, form.full_name.data,
                                        form.role.data, form.password.data,
                                        reason=form.reason.data)
        except DomainError as refusal:
            status = _show_refusal(form, refusal)
        else:
            flash(f"Account {user.username} created with a one-time password: "
                  f"{user.full_name} chooses their own at the first login.", "success")
            return redirect(url_for("auth.users"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/users.html", form=form, users=services.list_users(),
                           action=ActionForm()), status


def _account_page(user_id: int, status: int = 200, **forms: FlaskForm):
    user = services.get_user(user_id)
    pages = {"rename": RenameForm(formdata=None, full_name=user.full_name),
             "role": RoleForm(formdata=None, role=user.role),
             "reset": ResetPasswordForm(formdata=None),
             "active": ReasonForm(formdata=None, prefix="active"),
             "unlock": ReasonForm(formdata=None, prefix="unlock")}
    pages.update(forms)
    return render_template("auth/user.html", user=user, forms=pages,
                           history=services.account_history(user),
                           me=current_actor_user()), status


@bp.route("/admin/users/<int:user_id>")
@role_required("admin")
def user_page(user_id: int):
    return _account_page(user_id)


def _account_act(user_id: int, key: str, form: FlaskForm, act, done: str):
    """Validate ``form``, do ``act(user, form)``; back to the account page, or the page
    again with the refusal next to its field."""
    user = services.get_user(user_id)
    if not form.validate_on_submit():
        return _account_page(user_id, 400, **{key: form})
    try:
        act(user, form)
    except DomainError as refusal:
        return _account_page(user_id, _show_refusal(form, refusal), **{key: form})
    flash(done.format(user=user), "success")
    return redirect(url_for("auth.user_page", user_id=user_id))


@bp.route("/admin/users/<int:user_id>/name", methods=["POST"])
@role_required("admin")
def rename(user_id: int):
    return _account_act(user_id, "rename", RenameForm(), lambda user, form: services.update_user(
        user, by=current_actor_user(), full_name=form.full_name.data, reason=form.reason.data),
        "The printed name of {user.username} is now {user.full_name}.")


@bp.route("/admin/users/<int:user_id>/role", methods=["POST"])
@role_required("admin")
def change_role(user_id: int):
    return _account_act(user_id, "role", RoleForm(), lambda user, form: services.update_user(
        user, by=current_actor_user(), role=form.role.data, reason=form.reason.data),
        "{user.username} is now {user.role}; their sessions have ended.")


@bp.route("/admin/users/<int:user_id>/password", methods=["POST"])
@role_required("admin")
def reset_password(user_id: int):
    return _account_act(
        user_id, "reset", ResetPasswordForm(), lambda user, form: services.reset_password(
            user, form.password.data, by=current_actor_user(), reason=form.reason.data),
        "{user.username} has a new one-time password, to change at the next login; their "
        "sessions have ended.")


@bp.route("/admin/users/<int:user_id>/active", methods=["POST"])
@role_required("admin")
def toggle_active(user_id: int):
    return _account_act(
        user_id, "active", ReasonForm(prefix="active"), lambda user, form: services.update_user(
            user, by=current_actor_user(), active=not user.active, reason=form.reason.data),
        "Account {user.username} is now {user.account_state}.")


@bp.route("/admin/users/<int:user_id>/unlock", methods=["POST"])
@role_required("admin")
def unlock(user_id: int):
    return _account_act(
        user_id, "unlock", ReasonForm(prefix="unlock"),
        lambda user, form: services.unlock_user(user, reason=form.reason.data),
        "Account {user.username} unlocked.")
