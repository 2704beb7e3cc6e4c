"""Navigation by role and the values every page's layout needs."""

from __future__ import annotations

from flask import Flask, current_app
from flask_login import current_user

from lims.auth.forms import ActionForm
from lims.extension_points import NavItem, add_nav, points


def _layout_context() -> dict:
    role = current_user.role if current_user.is_authenticated else None
    items = [item for item in points().nav if role and (not item.roles or role in item.roles)]
    return {
        "nav_items": items,
        "facility_name": current_app.config["FACILITY_NAME"],
        # a form to show, not one filled from this request (whose body may be bad input)
        "logout_form": ActionForm(formdata=None),
    }


def init_app(app: Flask) -> None:
    add_nav(app, NavItem("Dashboard", "web.dashboard", order=0))
    add_nav(app, NavItem("Alerts", "alerts.index", order=800))
    add_nav(app, NavItem("Users", "auth.users", frozenset({"admin"}), order=900))
    add_nav(app, NavItem("API", "docs.api_docs", order=950))
    app.context_processor(_layout_context)
