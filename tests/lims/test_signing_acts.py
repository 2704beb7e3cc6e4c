"""Every signing act of the product (SPEC §8): registered with its meanings, its route
offering exactly those, its service refusing the others, and each one asking for the
user id at the first signing of a session (21 CFR 11.200(a)(1)(i))."""

from __future__ import annotations

import pytest

from lims.auth.models import Meaning
from tests.fixtures.records import KEPT_WRONG_PASSWORD
from tests.fixtures.users import TEST_PASSWORD

ACTS = {
    "batch_release": {"approval"},
    "batch_rejection": {"rejection"},
    "exceptional_release_request": {"approval", "responsibility"},
    "exceptional_release_approval": {"approval", "responsibility"},
    "deviation_closure": {"approval", "responsibility", "review"},
    "donor_eligibility": {"approval"},
    "batch_recall": {"approval"},
    "recall_closure": {"approval"},
    "change_approval": {"approval"},
    "change_rejection": {"rejection"},
}
"""Every signing act and its meanings: a new signing route adds its act here."""

ROUTES = {
    ("/api/v1/batches/{batch_id}/release", "batch_release"),
    ("/api/v1/batches/{batch_id}/reject", "batch_rejection"),
    ("/api/v1/batches/{batch_id}/exceptional-release", "exceptional_release_request"),
    ("/api/v1/batches/{batch_id}/exceptional-release/approve", "exceptional_release_approval"),
    ("/api/v1/deviations/{deviation_id}/close", "deviation_closure"),
    ("/api/v1/subjects/{subject_id}/donor-eligibility", "donor_eligibility"),
    ("/api/v1/batches/{batch_id}/recall", "batch_recall"),
    ("/api/v1/batches/{batch_id}/recall/close", "recall_closure"),
    ("/api/v1/qc-specification-changes/{change_id}/approve", "change_approval"),
    ("/api/v1/qc-specification-changes/{change_id}/reject", "change_rejection"),
    ("/api/v1/process-template-changes/{change_id}/approve", "change_approval"),
    ("/api/v1/process-template-changes/{change_id}/reject", "change_rejection"),
}


def test_every_signing_act_is_registered_with_its_meanings(client, qa):
    info = client.get("/api/v1/auth/signing", headers=qa).json
    assert {act["name"]: set(act["meanings"]) for act in info["acts"]} == ACTS


def test_every_signing_route_offers_exactly_its_acts_meanings_and_takes_the_user_id(client):
    spec = client.get("/api/openapi.json").json
    schemas = spec["components"]["schemas"]
    signing = {}
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            if not isinstance(operation, dict):  # the path's own parameters
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not body:
                continue
            schema = schemas[body["schema"]["$ref"].rsplit("/", 1)[1]]
            if "password" in schema["properties"] and "meaning" in schema["properties"]:
                signing[path] = schema
    assert set(signing) == {path for path, _act in ROUTES}, "a signing route without an act"
    for path, act in ROUTES:
        properties = signing[path]["properties"]
        assert set(properties["meaning"]["enum"]) == ACTS[act], path
        assert "username" in properties, f"{path} does not take the user id"


@pytest.fixture
def first_signing(app, client, make_user):
    """Bearer headers of a QA officer's new token, with nothing signed yet (plain headers:
    the test client adds no user id)."""

    def factory() -> dict[str, str]:
        _id, name = make_user("qa")
        token = client.post("/api/v1/auth/tokens",
                            json={"username": name, "password": TEST_PASSWORD}).json["token"]
        return {"Authorization": f"Bearer {token}"}

    return factory


def _signing_cases(qlab) -> list[tuple[str, str, dict]]:
    """A record for every act a QA officer signs on a batch, a deviation or a donor, each
    where the signature is the only thing missing."""
    ready = qlab.ready()
    pending = qlab.in_review()
    qlab.all_results(pending, skip=("sterility",))
    deviation = qlab.post(f"/batches/{ready['id']}/deviations",
                          {"description": "incubator door left open"}).json
    donor = qlab.donor(status="screened")  # all negative, not yet signed eligible
    return [
        ("batch_release", f"/batches/{ready['id']}/release", {"meaning": "approval"}),
        ("batch_rejection", f"/batches/{ready['id']}/reject", {"reason": "out of spec"}),
        ("exceptional_release_request", f"/batches/{pending['id']}/exceptional-release",
         {"physician_name": "Dr A", "physician_request": "urgent"}),
        ("deviation_closure", f"/deviations/{deviation['id']}/close",
         {"disposition": "no impact"}),
        ("donor_eligibility", f"/subjects/{donor['id']}/donor-eligibility",
         {"meaning": "approval"}),
    ]


def test_each_act_asks_for_the_user_id_at_a_sessions_first_signing(
        qlab, first_signing, client, nothing_written):
    for _act, path, body in _signing_cases(qlab):
        headers = first_signing()
        with nothing_written():
            refused = client.post(f"/api/v1{path}", headers=headers,
                                  json={"password": TEST_PASSWORD, **body})
        assert refused.status_code == 400, (path, refused.json)
        assert refused.json["error"] == "username_required", path
        assert "username" in refused.json["details"]["fields"], path


def test_each_act_refuses_a_user_id_not_the_sessions(qlab, first_signing, client, make_user,
                                                     nothing_written):
    _id, other = make_user("qa")
    for _act, path, body in _signing_cases(qlab):
        headers = first_signing()
        with nothing_written(audited=KEPT_WRONG_PASSWORD):
            refused = client.post(f"/api/v1{path}", headers=headers,
                                  json={"password": TEST_PASSWORD, "username": other, **body})
        assert refused.status_code == 401, (path, refused.json)
        assert refused.json["error"] == "signer_mismatch", path


def test_a_meaning_outside_the_act_is_refused_by_every_route(qlab, client, nothing_written):
    for act, path, body in _signing_cases(qlab):
        for meaning in sorted({m.value for m in Meaning} - ACTS[act]):
            with nothing_written():
                refused = client.post(f"/api/v1{path}", headers=qlab.signer,
                                      json={**body, "password": TEST_PASSWORD,
                                            "meaning": meaning})
            assert refused.status_code == 400, (path, meaning, refused.json)
            assert "meaning" in refused.json["details"]["fields"], (path, meaning)
