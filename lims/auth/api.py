"""API: bearer tokens, passwords, account administration, signing acts (SPEC §7, §8)."""

from __future__ import annotations

from flask import request

from lims.auth import services, signing
from lims.auth.guard import current_actor_user, role_required
from lims.auth.schemas import (
    AccountActReasonSchema,
    PasswordChangeSchema,
    PasswordResetSchema,
    SigningInfoSchema,
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)
from lims.extensions import ApiBlueprint

blp = ApiBlueprint("api_auth", __name__, url_prefix="/api/v1",
                   description="Authentication, passwords and user accounts")


@blp.route("/auth/tokens", methods=["POST"], endpoint="issue_token")
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.alt_response(401, description="Wrong username or password (a locked account answers the "
                  "same; an inactive one is named only after the right password)")
@blp.doc(security=[])
def issue_token(data):
    """Exchange username and password for a bearer token (SPEC §7). A user whose one-time
    password must be changed gets a token too (``password_change_required``: true), good
    only for ``POST /auth/password`` until then."""
    user = services.authenticate(data["username"], data["password"])
    raw, token = services.issue_token(user)
    return {"token": raw, "expires_at": token.expires_at, "user": user,
            "password_change_required": services.password_change_required(user)}


@blp.route("/auth/tokens/current", methods=["DELETE"], endpoint="revoke_token")
@blp.response(204)
def revoke_token():
    """Revoke the token used for this call (log out)."""
    current_actor_user()
    services.revoke_token(request.headers["Authorization"].partition(" ")[2].strip())


@blp.route("/auth/password", methods=["POST"], endpoint="change_password")
@blp.arguments(PasswordChangeSchema)
@blp.response(204)
@blp.alt_response(423, description="The account is locked (too many wrong passwords)")
def change_password(data):
    """Change your own password (SPEC §8, API contract v2). 400 names every policy rule
    broken in ``details.rules`` (min_length, max_length, username, common, repetitive,
    reused); a wrong current password is 401 and counts towards the lockout. Every other
    session and token of yours ends; this token stays."""
    services.change_own_password(current_actor_user(), data["current_password"],
                                 data["new_password"])


@blp.route("/auth/signing", methods=["GET"], endpoint="signing_info")
@blp.response(200, SigningInfoSchema)
def signing_info():
    """The signing acts with the meanings valid for each, and whether your next signature
    in this session needs your user id as well as your password (SPEC §8)."""
    current_actor_user()
    return {"username_required": signing.username_required(),
            "acts": [act.as_dict() for act in signing.signing_acts()]}


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
@blp.alt_response(409, description="The username is taken, or the printed name belongs to "
                  "another person")
@role_required("admin")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(data):
    """Create an account (admin) with a one-time password, with a reason."""
    return services.create_user(data["username"], data["full_name"], data["role"],
                                data["password"], reason=data["reason"])


@blp.route("/users/<int:user_id>", methods=["PATCH"], endpoint="update_user")
@blp.alt_response(409, description="Refused: your own role, an admin account and a GMP role, "
                  "deactivating yourself, or another person's printed name")
@role_required("admin")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(data, user_id):
    """Activate or deactivate an account, change its name or role (admin), with a reason.
    A role change or a deactivation ends the user's sessions and tokens."""
    return services.update_user(services.get_user(user_id), by=current_actor_user(), **data)


@blp.route("/users/<int:user_id>/password", methods=["POST"], endpoint="reset_password")
@blp.alt_response(409, description="An admin changes their own password with "
                  "POST /auth/password")
@role_required("admin")
@blp.arguments(PasswordResetSchema)
@blp.response(200, UserSchema)
def reset_password(data, user_id):
    """Set a new one-time password (admin), with a reason: the user must change it at the
    next login; their sessions and tokens end."""
    return services.reset_password(services.get_user(user_id), data["password"],
                                   by=current_actor_user(), reason=data["reason"])


@blp.route("/users/<int:user_id>/unlock", methods=["POST"], endpoint="unlock_user")
@role_required("admin")
@blp.arguments(AccountActReasonSchema)
@blp.response(200, UserSchema)
def unlock_user(data, user_id):
    """Lift a lock before it lifts by itself (admin), with a reason. Sessions and tokens
    ended by the lock stay ended."""
    return services.unlock_user(services.get_user(user_id), reason=data["reason"])
