"""Domain errors and the one place that turns every error into a response.

Services raise :class:`DomainError` subclasses; views never build error
responses themselves. API paths answer JSON ``{"error", "message", "details"}``
(SPEC §7); HTML paths answer an error page (or a redirect to the login page).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

API_PREFIX = "/api/"


class DomainError(Exception):
    """A refusal with an HTTP status, a machine code, a human message and details."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class BadRequest(DomainError):
    """400: the input is malformed or invalid; ``details`` names the fields."""


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """409: a rule refused the action; ``details.reasons`` lists every unmet condition."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, reasons: list[str] | None = None, *,
                 code: str | None = None, details: dict[str, Any] | None = None) -> None:
        details = dict(details or {})
        details["reasons"] = list(reasons or [message])
        super().__init__(message, code=code, details=details)


class Locked(DomainError):
    status = 423
    code = "account_locked"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def error_body(status: int, code: str, message: str, details: dict[str, Any] | None = None):
    return {"error": code, "message": message, "details": details or {}}


def _html_error(status: int, code: str, message: str, details: dict[str, Any]):
    return render_template("errors/error.html", status=status, code=code,
                           message=message, details=details), status


def respond_error(status: int, code: str, message: str, details: dict[str, Any] | None = None):
    """Build the error response suited to the request (JSON for the API, a page otherwise)."""
    details = details or {}
    if is_api_request():
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        return error_body(status, code, message, details), status, headers
    return _html_error(status, code, message, details)


def _handle_domain_error(error: DomainError):
    if isinstance(error, Unauthorized) and not is_api_request():
        return redirect(url_for("auth.login", next=request.full_path))
    return respond_error(error.status, error.code, error.message, error.details)


def _http_code(error: HTTPException) -> str:
    return (error.name or "error").lower().replace(" ", "_")


def _handle_http_exception(error: HTTPException):
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    details: dict[str, Any] = {}
    message = error.description or error.name
    if "messages" in data:  # webargs / marshmallow validation errors
        details["fields"] = _flatten_locations(data["messages"])
        message = "The request has invalid or missing fields: " + ", ".join(
            sorted(details["fields"])) if details["fields"] else message
    if status == 400 and "fields" not in details and is_api_request():
        details["fields"] = {}
    if status == 405:
        details["allowed"] = sorted(error.valid_methods or []) if hasattr(error, "valid_methods") \
            else []
    return respond_error(status, _http_code(error), message, details)


def _flatten_locations(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location (json, query…); clients want field → messages."""
    fields: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            for name, text in errors.items():
                fields["body" if name == "_schema" else name] = text
        else:
            fields["body" if location == "json" else location] = errors
    return fields


def _handle_unexpected(error: Exception):
    from flask import current_app

    current_app.logger.exception("unhandled error", exc_info=error)
    return respond_error(500, "internal_error", "An unexpected error occurred; nothing was saved.")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
