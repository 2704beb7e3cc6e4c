"""Web forms (Flask-WTF: every form carries a CSRF token).

The forms check only shape (present, bounded); the rules — the password policy, who
may change what — are the services' (:mod:`lims.auth.services`), whose refusals the
views show next to the field they name.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from lims.auth.models import Role

REASON_HELP = "Why — kept in the audit trail."


def _reason() -> StringField:
    return StringField("Reason", validators=[DataRequired(message="A reason is required."),
                                             Length(max=1000)], description=REASON_HELP)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class UserForm(FlaskForm):
    username = StringField("Username", validators=[
        DataRequired(), Regexp(r"^[A-Za-z0-9._-]{2,64}$", message="2–64 letters, digits, . _ -")])
    full_name = StringField("Full name (printed name)", validators=[DataRequired(),
                                                                    Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r.value) for r in Role])
    password = PasswordField("One-time password", validators=[DataRequired(), Length(max=256)],
                             description="The user must change it at the first login.")
    reason = _reason()


class ActionForm(FlaskForm):
    """An empty form: a POST button that carries only the CSRF token."""


class ReasonForm(FlaskForm):
    """An account act that needs only a reason (activate, deactivate, unlock)."""

    reason = _reason()


class RenameForm(FlaskForm):
    full_name = StringField("Full name (printed name)", validators=[DataRequired(),
                                                                    Length(max=200)])
    reason = _reason()


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(r.value) for r in Role])
    reason = _reason()


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New one-time password", validators=[DataRequired(),
                                                                  Length(max=256)])
    reason = _reason()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(),
                                                                      Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("New password again", validators=[
        DataRequired(), EqualTo("new_password", message="The two new passwords differ.")])
