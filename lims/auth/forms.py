"""Web forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from lims.auth.models import Role


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class UserForm(FlaskForm):
    username = StringField("Username", validators=[
        DataRequired(), Regexp(r"^[A-Za-z0-9._-]{2,64}$", message="2–64 letters, digits, . _ -")])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=[SelectChoice(r.value) for r in Role])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(8, 256)])


class ActionForm(FlaskForm):
    """An empty form: a POST button that carries only the CSRF token."""
