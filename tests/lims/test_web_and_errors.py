"""Error bodies, OpenAPI, the docs page, the scan box and deny-by-default routing."""

from __future__ import annotations

import pytest

from lims.extension_points import ScanHit, add_resolver

ERROR_KEYS = {"error", "message", "details"}


def test_api_errors_are_json_with_the_contract_shape(client, api_headers, nothing_written):
    headers = api_headers("admin")
    with nothing_written():
        cases = [
            client.get("/api/v1/does-not-exist", headers=headers),
            client.put("/api/v1/users", headers=headers, json={}),
            client.post("/api/v1/users", headers=headers, data="{not json",
                        content_type="application/json"),
            client.post("/api/v1/users", headers=headers, json=["a", "list"]),
            client.post("/api/v1/users", headers=headers, data="username=x",
                        content_type="application/x-www-form-urlencoded"),
            client.post("/api/v1/users", headers=headers, json={
                "username": "x" * 10_000, "full_name": "y" * 100_000, "role": "qa",
                "password": "z" * 300}),
            client.get("/api/v1/audit?after_seq=abc", headers=headers),
            client.post("/api/v1/users", headers=headers, json={
                "username": 12, "full_name": None, "role": ["qa"], "password": True}),
        ]
    assert [r.status_code for r in cases] == [404, 405, 400, 400, 400, 400, 400, 400]
    for response in cases:
        assert set(response.json) == ERROR_KEYS
        assert response.status_code < 500


def test_nothing_is_written_by_a_refused_request(app, client, api_headers, nothing_written):
    from sqlalchemy import func, select

    from lims.audit import AuditEntry
    from lims.db import db

    headers = api_headers("admin")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    with nothing_written():
        client.post("/api/v1/users", headers=headers, json={
            "username": "ok-name", "full_name": "Fine", "role": "qa", "password": "short"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_html_errors_are_pages(client, login_as):
    login_as("technician")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html" and b"404" in response.data


def test_openapi_document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/tokens" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/auth/tokens"]["post"]["security"] == []
    assert "ErrorSchema" in str(spec) or "Error" in str(spec["components"])


def test_browsable_api_docs_page(client, login_as):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert b"/api/v1/auth/tokens" in page.data


def _public(endpoint: str) -> bool:
    from lims.auth.guard import PUBLIC_ENDPOINTS

    return endpoint in PUBLIC_ENDPOINTS


def test_every_route_but_the_public_ones_needs_authentication(app, client):
    """Deny by default (SPEC §8: roles checked on the server for every route)."""
    import re

    checked = 0
    for rule in app.url_map.iter_rules():
        if _public(rule.endpoint):
            continue
        path = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method, json={} if method != "GET" else None)
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path, response.status_code)
            else:
                assert response.status_code in (302, 400), (method, path, response.status_code)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"]
            checked += 1
    assert checked >= 10


def test_scan_box_jumps_to_what_a_resolver_finds(app, client, login_as):
    add_resolver(app, lambda code: ScanHit("batch", 7, "/somewhere/7") if code == "B-7" else None)
    login_as("technician")
    hit = client.get("/scan?code=B-7")
    assert hit.status_code == 302 and hit.headers["Location"] == "/somewhere/7"
    miss = client.get("/scan?code=UNKNOWN")
    assert miss.status_code == 404 and b"Nothing is known" in miss.data


@pytest.mark.parametrize("code, status", [("B-7", 200), ("nope", 404), ("", 400)])
def test_lookup_api(app, client, api_headers, code, status):
    add_resolver(app, lambda c: ScanHit("batch", 7, "/x", "Batch 7") if c == "B-7" else None)
    response = client.get(f"/api/v1/lookup?code={code}", headers=api_headers())
    assert response.status_code == status
    if status == 200:
        assert response.json["type"] == "batch" and response.json["id"] == 7


def test_navigation_follows_the_role(client, login_as):
    login_as("technician")
    assert b"/admin/users" not in client.get("/").data


def test_admin_sees_user_administration(client, login_as):
    login_as("admin")
    assert b"/admin/users" in client.get("/").data


def test_health_is_public(client):
    assert client.get("/health").json == {"status": "ok"}


@pytest.mark.parametrize("path, kwargs", [
    ("/api/v1/audit?entity_type=a%00b", {}),
    ("/api/v1/lookup?code=%00", {}),
    ("/api/v1/users", {"method": "POST", "json": {"username": "a\x00b", "full_name": "x",
                                                  "role": "qa", "password": "long-enough-1"}}),
    ("/api/v1/users", {"method": "POST", "json": {"username\x00": "ab", "full_name": "x",
                                                  "role": "qa", "password": "long-enough-1"}}),
])
def test_nul_characters_are_a_400_naming_the_field(client, api_headers, path, kwargs,
                                                    nothing_written):
    """PostgreSQL refuses NUL in text: it must never reach the database (found by fuzzing)."""
    method = kwargs.pop("method", "GET")
    headers = api_headers("admin")
    with nothing_written():
        response = client.open(path, method=method, headers=headers, **kwargs)
    assert response.status_code == 400, response.json
    assert "NUL" in response.json["message"] and response.json["details"]["fields"]


def test_nul_in_a_form_field_is_a_400(client, login_as):
    login_as("technician")
    assert client.get("/scan?code=B%00").status_code == 400
