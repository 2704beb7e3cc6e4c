"""Users, roles, login, server-side sessions, API tokens and electronic signatures."""

from __future__ import annotations

from flask import Flask

from lims.auth.guard import current_actor_user, role_required
from lims.auth.models import Meaning, Role, Signature, User
from lims.auth.signing import add_signing_act, meanings_for

__all__ = ["Meaning", "Role", "Signature", "User", "add_signing_act", "current_actor_user",
           "init_app", "meanings_for", "role_required"]


def init_app(app: Flask) -> None:
    from lims.auth import api, guard, signing, views
    from lims.auth.models import MEANING_STATEMENTS
    from lims.extension_points import NavItem, add_nav
    from lims.extensions import login_manager, rest_api

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(guard.load_session_user)

    guard.init_app(app)
    app.register_blueprint(views.bp)
    rest_api(app).register_blueprint(api.blp)
    add_nav(app, NavItem("Password", "auth.change_password", order=990))
    # The signing dialog's pieces (auth/_signature_fields.html): the meanings of an act
    # and whether this session's next signature needs the user id.
    app.jinja_env.globals.update(signing_meanings=signing.meaning_choices,
                                 signing_username_required=signing.username_required,
                                 meaning_statements=MEANING_STATEMENTS)
