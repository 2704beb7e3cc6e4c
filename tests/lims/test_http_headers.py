"""Security headers on every answer, no server version banner (SPEC §8 HTTP)."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.fixtures.users import web_login

ROOT = Path(__file__).resolve().parents[2]


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def _common(response) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_pages_forbid_inline_script_and_framing(client, make_user):
    make_user("qa", username="quinn")
    login = client.get("/login")
    web_login(client, "quinn")
    dashboard = client.get("/")
    for page in (login, dashboard):
        assert page.status_code == 200 and page.mimetype == "text/html"
        _common(page)
        csp = _csp(page)
        assert csp["script-src"] == "script-src 'self'"
        assert csp["style-src"] == "style-src 'self'"
        assert csp["object-src"] == "object-src 'none'"
        assert csp["form-action"] == "form-action 'self'"
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
        assert "unsafe-eval" not in page.headers["Content-Security-Policy"]
    assert dashboard.headers["Cache-Control"] == "no-store"


def test_api_answers_and_errors_carry_the_headers_and_no_store(client, api_headers):
    me = client.get("/api/v1/me", headers=api_headers("qa"))
    refused = client.get("/api/v1/me")
    for answer in (me, refused):
        _common(answer)
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Content-Security-Policy"] == \
            "default-src 'none'; frame-ancestors 'none'"
    assert refused.status_code == 401


def test_html_error_pages_and_redirects_carry_the_headers(client, login_as):
    anonymous = client.get("/")
    assert anonymous.status_code == 302
    _common(anonymous)
    login_as("technician")
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    _common(missing)
    assert missing.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    script = client.get("/static/scan.js")
    assert script.status_code == 200
    _common(script)
    assert script.headers.get("Cache-Control") != "no-store"
    script.close()


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_needs_inline_script_or_style():
    """The CSP allows no inline script or style: no template may rely on them."""
    found = []
    for template in sorted(ROOT.glob("*/templates/**/*.html")):
        text = template.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert not found, "\n".join(found)


@pytest.fixture
def dev_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=WSGIRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_the_development_server_names_no_versions(dev_server):
    with urllib.request.urlopen(f"{dev_server}/login", timeout=10) as answer:  # noqa: S310
        banner = answer.headers["Server"]
    assert banner == "lims"
    assert "Werkzeug" not in banner and "Python" not in banner
