"""Bad input of any kind is a 400, never a 500 (SPEC §8): JSON nested a thousand deep, a
number of thousands of digits, text that is not valid Unicode — on every route that takes a
JSON body, before and after authentication."""

from __future__ import annotations

import pytest

from lims.extensions import MAX_JSON_DEPTH

DEEP_ARRAY = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


def _json_routes(app) -> list[tuple[str, str]]:
    """Every API operation that takes a JSON body, with 1 for each path id."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            path = rule.rule
            for argument in rule.arguments:
                path = path.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "MSC")
            routes.append((method, path))
    return routes


@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_deeply_nested_json_is_a_400_on_every_json_route(app, client, api_headers, body,
                                                         nothing_written):
    headers = {"Content-Type": "application/json"}
    admin = {**headers, **api_headers("admin")}
    routes = _json_routes(app)
    assert len(routes) > 20
    with nothing_written():
        for method, path in routes:
            for who in (headers, admin):
                response = client.open(path, method=method, data=body, headers=who)
                assert response.status_code == 400, (method, path, response.status_code)
                assert response.json["error"] == "bad_request"
                assert "nested" in response.json["message"]
                assert response.json["details"]["fields"] == {
                    "body": f"nested deeper than {MAX_JSON_DEPTH} levels"}


def test_json_nested_just_within_the_limit_reaches_the_route(client, api_headers):
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH - 1):
        nested = [nested]
    response = client.post("/api/v1/subjects", json={"code": nested},
                           headers=api_headers("technician"))
    assert response.status_code == 400
    assert set(response.json["details"]["fields"]) >= {"code", "kind"}


def test_deep_json_on_a_page_route_is_refused_too(client, login_as):
    login_as("technician")
    response = client.post("/subjects", data=DEEP_ARRAY,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_json_that_is_not_json_on_a_page_route_is_a_400(client, login_as):
    """A page renders its layout for the error too; the layout must not read the body."""
    login_as("technician")
    response = client.post("/subjects", data="{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize(("extra", "field"), [
    ('"notes": "a\\ud800b"', "notes"), ('"x\\udfffy": 1', "x?y"),
], ids=["value", "key"])
def test_text_that_is_not_unicode_is_a_400_naming_the_field(lab, extra, field, nothing_written):
    """An unpaired surrogate is valid JSON but no database can store it."""
    patient = lab.patient()
    collected_at = lab.collection(patient)["collected_at"]
    body = (f'{{"subject_id": {patient["id"]}, "source": "bone_marrow", '
            f'"collected_at": "{collected_at}", "volume_ml": 5.0, {extra}}}')
    with nothing_written():
        response = lab.client.post("/api/v1/collections", data=body, headers={
            **lab.tech, "Content-Type": "application/json"})
    assert response.status_code == 400, response.json
    assert field in response.json["details"]["fields"]


def test_a_number_of_thousands_of_digits_is_a_400(client, api_headers, nothing_written):
    headers = {**api_headers("technician"), "Content-Type": "application/json"}
    with nothing_written():
        response = client.post("/api/v1/collections", data='{"volume_ml": ' + "1" * 5000 + "}",
                               headers=headers)
    assert response.status_code == 400, response.json
    assert "body" in response.json["details"]["fields"]
