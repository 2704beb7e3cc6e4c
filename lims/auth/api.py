"""API: bearer tokens and account administration."""

from __future__ import annotations

from flask import request

from lims.auth import services
from lims.auth.guard import current_actor_user, role_required
from lims.auth.schemas import (
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)
from lims.extensions import ApiBlueprint

blp = ApiBlueprint("api_auth", __name__, url_prefix="/api/v1",
                   description="Authentication and user accounts")


@blp.route("/auth/tokens", methods=["POST"], endpoint="issue_token")
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(423, description="Account locked")
@blp.doc(security=[])
def issue_token(data):
    """Exchange username and password for a bearer token (SPEC §7)."""
    user = services.authenticate(data["username"], data["password"])
    raw, token = services.issue_token(user)
    return {"token": raw, "expires_at": token.expires_at, "user": user}


@blp.route("/auth/tokens/current", methods=["DELETE"], endpoint="revoke_token")
@blp.response(204)
def revoke_token():
    """Revoke the token used for this call (log out)."""
    current_actor_user()
    services.revoke_token(request.headers["Authorization"].partition(" ")[2].strip())


@blp.route("/me", methods=["GET"], endpoint="me")
@blp.response(200, UserSchema)
def me():
    """The authenticated user."""
    return current_actor_user()


@blp.route("/users", methods=["GET"], endpoint="list_users")
@role_required("admin")
@blp.response(200, UserSchema(many=True))
def list_users():
    """All accounts (admin)."""
    return services.list_users()


@blp.route("/users", methods=["POST"], endpoint="create_user")
@blp.alt_response(409, description="The username is taken")
@role_required("admin")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(data):
    """Create an account (admin)."""
    return services.create_user(data["username"], data["full_name"], data["role"],
                                data["password"])


@blp.route("/users/<int:user_id>", methods=["PATCH"], endpoint="update_user")
@role_required("admin")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(data, user_id):
    """Activate or deactivate an account, change its name or role (admin)."""
    return services.update_user(services.get_user(user_id), **data)


@blp.route("/users/<int:user_id>/unlock", methods=["POST"], endpoint="unlock_user")
@role_required("admin")
@blp.response(200, UserSchema)
def unlock_user(user_id):
    """Unlock an account locked after failed attempts (admin)."""
    return services.unlock_user(services.get_user(user_id))
