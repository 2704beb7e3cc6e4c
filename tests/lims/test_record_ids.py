"""A path id beyond the 32-bit id columns names no record: 404, never a driver overflow (500).
Found by the API fuzz tests (tests/fuzz)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/api/v1/batches/2147483648", "/api/v1/steps/" + "9" * 40,
                                  "/api/v1/users/18446744073709551616"])
def test_a_huge_path_id_is_not_found(client, api_headers, path):
    response = client.get(path, headers=api_headers("admin"))
    assert response.status_code in (404, 405), response.get_data(as_text=True)
    assert response.json["error"] in ("not_found", "method_not_allowed")


def test_the_largest_id_is_still_routed(client, api_headers):
    response = client.get("/api/v1/batches/2147483647", headers=api_headers("technician"))
    assert response.status_code == 404
    assert response.json["details"] == {"id": 2147483647, "type": "batch"}


def test_the_description_bounds_path_ids(client):
    spec = client.get("/api/openapi.json").json
    (param,) = spec["paths"]["/api/v1/batches/{batch_id}"]["parameters"]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def test_documented_refusals_carry_the_error_body(client):
    spec = client.get("/api/openapi.json").json
    refused = spec["paths"]["/api/v1/batches/{batch_id}/steps"]["post"]["responses"]["409"]
    assert refused["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
