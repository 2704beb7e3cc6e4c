"""Users, roles, login, API tokens and electronic signatures."""

from __future__ import annotations

from flask import Flask

from lims.auth.guard import current_actor_user, role_required
from lims.auth.models import Meaning, Role, Signature, User

__all__ = ["Meaning", "Role", "Signature", "User", "current_actor_user", "init_app",
           "role_required"]


def init_app(app: Flask) -> None:
    from lims.auth import api, guard, views
    from lims.db import db
    from lims.extensions import login_manager, rest_api

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    guard.init_app(app)
    app.register_blueprint(views.bp)
    rest_api(app).register_blueprint(api.blp)
