"""Security headers on every response, set in this one place (SPEC §8 HTTP).

- ``Content-Security-Policy``: pages load scripts, styles and images from this site only
  — no inline script, no inline style, no ``eval`` — and may not be framed
  (``frame-ancestors 'none'``: the signing forms cannot be overlaid by another site);
  forms post only to this site. Other answers (JSON, documents) get a policy that allows
  nothing but keeps them unframeable; PDFs only the latter, so the browser's own viewer
  still shows them.
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``;
  ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: same-origin`` (the CSRF check
  reads the Referer of HTTPS form posts, so ``no-referrer`` would break them);
  ``Cross-Origin-Opener-Policy: same-origin``; a ``Permissions-Policy`` that turns off
  camera, microphone and location.
- ``Cache-Control: no-store`` on every answer but static files: pages and API answers
  hold GMP and personal data and must not stay in a shared terminal's cache.
- No server banner with versions: the development server's ``Werkzeug/x Python/y`` is
  replaced by ``lims``; gunicorn sends ``gunicorn`` without a version (it adds its
  header itself, so a reverse proxy is where to remove it entirely).
"""

from __future__ import annotations

from flask import Flask, Response, request

PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCUMENT_POLICY = "frame-ancestors 'none'"
SERVER_BANNER = "lims"

COMMON_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def _is_static() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _policy(response: Response) -> str:
    if response.mimetype == "text/html":
        return PAGE_POLICY
    if response.mimetype == "application/pdf":
        return DOCUMENT_POLICY
    return DATA_POLICY


def add_security_headers(response: Response) -> Response:
    for name, value in COMMON_HEADERS.items():
        response.headers[name] = value
    response.headers["Content-Security-Policy"] = _policy(response)
    if not _is_static():
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def _quiet_development_server() -> None:
    """The development server (``flask run``, the browser tests' live server) names
    Werkzeug's and Python's versions in ``Server``; answer ``lims`` instead."""
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.version_string = lambda self: SERVER_BANNER  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
    _quiet_development_server()
