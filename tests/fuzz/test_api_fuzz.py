"""Fuzz every operation of /api/openapi.json with schemathesis (SPEC §7, §8 "never a 500").

Each operation gets bounded, derandomized examples (valid and invalid input alike),
sent through the WSGI app with a bearer token of the role that may use it, on a
database that already holds a few records so that ids in paths sometimes exist. The
checks: no 5xx, the status is documented, and the body matches its documented schema.

Tune with ``LIMS_FUZZ_EXAMPLES`` (examples per operation, default 25).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from tests.conftest import TEST_PASSWORD

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Which role acts on which operation: the one allowed to (so the fuzzer gets past the
# role check and into the service); everything else as a technician. A second pass runs
# every operation as each of the other roles, with fewer examples, to prove the role
# checks answer documented errors too.
ROLE_OF = {
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/{user_id}/unlock"): "admin",
    ("PATCH", "/api/v1/products/{code}"): "admin",
    ("POST", "/api/v1/process-templates/{template_id}/revisions"): "admin",
    ("GET", "/api/v1/audit"): "qa",
    ("POST", "/api/v1/subjects/{subject_id}/donor-eligibility"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/resume"): "qa",
    ("GET", "/api/v1/batches/{batch_id}/audit-bundle.json"): "qa",
}
ROLES = ("technician", "qa", "admin")


@pytest.fixture
def fuzz_lab(app, client, make_user):
    """Users of every role with tokens, and a few records for the paths' ids to find."""
    tokens, users = {}, {}
    for role in ROLES:
        user_id, name = make_user(role, username=f"fuzz-{role}")
        users[role] = user_id
        tokens[role] = _token(client, name)
    tech = {"Authorization": f"Bearer {tokens['technician']}"}
    for n in range(2):
        patient = client.post("/api/v1/subjects", headers=tech, json={
            "code": f"FZ-{n}", "kind": "patient", "initials": "FZ",
            "date_of_birth": "1980-01-01"}).json
        client.post(f"/api/v1/subjects/{patient['id']}/recipient-screening", headers=tech,
                    json={"contraindications": []})
        collection = client.post("/api/v1/collections", headers=tech, json={
            "subject_id": patient["id"], "source": "bone_marrow", "volume_ml": 10.0,
            "collected_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()}).json
        assert "id" in collection, collection
        batch = client.post("/api/v1/batches", headers=tech, json={
            "collection_id": collection["id"], "product": "MSC", "origin": "autologous",
            "recipient_id": patient["id"]}).json
        assert "id" in batch, batch
        client.post(f"/api/v1/batches/{batch['id']}/steps", headers=tech,
                    json={"type": "seeding"})
    return {"app": app, "client": client, "tokens": tokens, "users": users}


def _token(client, username: str) -> str:
    response = client.post("/api/v1/auth/tokens",
                           json={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 201, response.json
    return response.json["token"]


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False,
    suppress_health_check=list(HealthCheck))


def _operations(app):
    """Every operation of the app's OpenAPI description, as schemathesis reads it."""
    api = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 30, [op.label for op in operations]
    return operations


def _strategy(operation):
    """Valid input, and input that breaks the schema (where such input can be made)."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        negative = operation.as_strategy(GenerationMode.NEGATIVE)
    except Exception:  # noqa: BLE001 — nothing to negate (no parameters, no body)
        return positive
    return st.one_of(positive, negative)


def _fuzz(fuzz_lab, roles_for, examples: int) -> None:
    """Fuzz each operation as each of ``roles_for(method, path)``; fail listing every
    operation that broke a check (with schemathesis' reproduction), not just the first."""
    failures = []
    for operation in _operations(fuzz_lab["app"]):
        roles = roles_for(operation.method.upper(), operation.path)
        try:
            _operation_test(fuzz_lab, operation, roles, examples)()
        except (Exception, FailureGroup) as failure:  # noqa: BLE001 — reported together below
            failures.append(f"{operation.label} as {'/'.join(roles)}:\n{failure}")
    if failures:
        pytest.fail(f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures),
                    pytrace=False)


def _operation_test(fuzz_lab, operation, roles: list[str], examples: int):
    @given(case=_strategy(operation))
    @settings(FUZZ_SETTINGS, max_examples=examples)
    def run(case):
        for role in roles:
            _restore(fuzz_lab, role)
            case.call_and_validate(headers=_headers(fuzz_lab, case, role), checks=CHECKS)

    return run


def _restore(fuzz_lab, role: str) -> None:
    """Undo what a fuzzed admin call may have done to the acting accounts (deactivated,
    demoted, locked), so every case runs with a working token of its role."""
    from lims.auth.models import User
    from lims.db import db

    with fuzz_lab["app"].app_context():
        for each, user_id in fuzz_lab["users"].items():
            db.session.execute(update(User).where(User.id == user_id).values(
                active=True, role=each, failed_logins=0, locked_at=None))
        db.session.commit()


def _headers(fuzz_lab, case, role: str) -> dict[str, str]:
    if (case.method.upper(), case.path) == ("DELETE", "/api/v1/auth/tokens/current"):
        # Revoking must not revoke the token the other cases use: a token of its own.
        return {"Authorization": f"Bearer {_token(fuzz_lab['client'], f'fuzz-{role}')}"}
    return {"Authorization": f"Bearer {fuzz_lab['tokens'][role]}"}


def test_every_operation_as_the_role_that_may_use_it(fuzz_lab):
    _fuzz(fuzz_lab, lambda method, path: [ROLE_OF.get((method, path), "technician")],
          EXAMPLES)


def test_every_operation_as_the_other_roles(fuzz_lab):
    """Fewer examples: the role checks must answer documented errors, never a 5xx."""
    def others(method, path):
        return [r for r in ROLES if r != ROLE_OF.get((method, path), "technician")]

    _fuzz(fuzz_lab, others, max(3, EXAMPLES // 5))
