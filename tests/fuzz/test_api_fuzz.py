"""Fuzz every operation of /api/openapi.json with schemathesis (SPEC §7, §8 "never a 500").

Each operation gets bounded, derandomized examples (valid and invalid input alike),
sent through the WSGI app with a bearer token of the role that may use it, on a
database that already holds a few records so that ids in paths sometimes exist. The
checks: no 5xx, the status is documented, and the body matches its documented schema.

Tune with ``LIMS_FUZZ_EXAMPLES`` (examples per operation, default 25).
"""

from __future__ import annotations

import os
from collections import Counter
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
from sqlalchemy import text

from tests.fixtures.users import TEST_PASSWORD

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Which role acts on which operation: the one allowed to (so the fuzzer gets past the
# role check and into the service); everything else as a technician. A second pass runs
# every operation as each of the other roles, with fewer examples, to prove the role
# checks answer documented errors too. ``test_role_of_names_every_operation_a_technician_
# may_not_use`` keeps this table in step with the routes' ``role_required``.
ROLE_OF = {
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/{user_id}/unlock"): "admin",
    ("POST", "/api/v1/users/{user_id}/password"): "admin",
    ("PATCH", "/api/v1/products/{code}"): "admin",
    ("POST", "/api/v1/process-templates/{template_id}/revisions"): "admin",
    ("POST", "/api/v1/qc-specifications/{spec_id}/revise"): "admin",
    ("POST", "/api/v1/qc-specification-changes"): "admin",
    ("POST", "/api/v1/qc-specification-changes/{change_id}/approve"): "qa",
    ("POST", "/api/v1/qc-specification-changes/{change_id}/reject"): "qa",
    ("POST", "/api/v1/qc-specification-changes/{change_id}/withdraw"): "admin",
    ("POST", "/api/v1/process-template-changes"): "admin",
    ("POST", "/api/v1/process-template-changes/{change_id}/approve"): "qa",
    ("POST", "/api/v1/process-template-changes/{change_id}/reject"): "qa",
    ("POST", "/api/v1/process-template-changes/{change_id}/withdraw"): "admin",
    ("GET", "/api/v1/audit"): "qa",
    ("GET", "/api/v1/release-queue"): "qa",
    ("POST", "/api/v1/subjects/{subject_id}/donor-eligibility"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/resume"): "qa",
    ("POST", "/api/v1/deviations/{deviation_id}/close"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/release"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/reject"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/exceptional-release"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/exceptional-release/approve"): "qa",
    ("GET", "/api/v1/batches/{batch_id}/audit-bundle.json"): "qa",
    ("POST", "/api/v1/alerts/{alert_id}/close"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/recall"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/recall/notifications"): "qa",
    ("POST", "/api/v1/batches/{batch_id}/recall/close"): "qa",
    ("POST", "/api/v1/recall-notifications/{notification_id}/acknowledge"): "qa",
    ("POST", "/api/v1/exceptional-release-follow-ups/{follow_up_id}/physician-notification"):
        "qa",
}
ROLES = ("technician", "qa", "admin")
REAL_ID_SHARE = 0.7
"""Of the cases with an id in the path, the share whose ids are replaced by real ones."""

NK_PASSING = [
    {"test": "sterility", "outcome": "negative"}, {"test": "mycoplasma", "outcome": "negative"},
    {"test": "endotoxin", "value": 0.1, "unit": "EU/mL"},
    {"test": "viability", "value": 91.0, "unit": "%"},
    {"test": "cd56_cd3neg", "value": 85.0, "unit": "%"}, {"test": "cd3", "value": 1.5, "unit": "%"},
]


@pytest.fixture
def fuzz_lab(app, client, make_user):
    """Users of every role with tokens, and real records of every kind the paths name (a
    released batch with doses that moved and a refused wrong-patient administration and its
    alert, batches in culture, a deviation, QC results), so that a good share of the cases
    reach a real row instead of a 404."""
    tokens, users = {}, {}
    for role in ROLES:
        user_id, name = make_user(role, username=f"fuzz-{role}")
        users[role] = user_id
        tokens[role] = _token(client, name)
    _reviewer_id, reviewer = make_user("technician", username="fuzz-reviewer")
    lab = _Records(client, {"technician": tokens["technician"], "qa": tokens["qa"],
                            "reviewer": _token(client, reviewer), "admin": tokens["admin"]})
    for n in range(2):
        batch = lab.batch(f"FZ-{n}", "MSC")
        lab.post("technician", f"/batches/{batch['id']}/steps", {"type": "seeding"})
    lab.post("technician", f"/batches/{batch['id']}/qc-results",
             {"test": "viability", "value": 88.0, "unit": "%", "stage": "in_process"})
    lab.post("technician", f"/batches/{batch['id']}/deviations",
             {"description": "incubator door found ajar"})
    released = lab.released_nk("FZ-REL")
    dose = lab.get("technician", f"/batches/{released['id']}/doses")[0]
    matrix = lab.get("technician", f"/doses/{dose['id']}")["barcodes"]["matrix"]
    for event, where in (("retrieved", "cleanroom"), ("shipped", "courier"),
                         ("received", "ward")):
        lab.post("technician", f"/doses/{dose['id']}/custody",
                 {"event": event, "location": where, "scanned_code": matrix})
    lab.post("technician", f"/doses/{dose['id']}/administer",
             {"patient_code": "SOMEONE-ELSE", "patient_date_of_birth": "1999-09-09",
              "scanned_code": matrix}, expect=409)
    assert lab.get("qa", "/alerts?kind=identity_mismatch&open=true"), "no alert to fuzz"
    lab.post("admin", "/process-template-changes", {"product": "MSC", "max_passage": 7,
                                                     "reason": "fuzz: a change to decide"})
    spec = next(s for s in lab.get("technician", "/qc-specifications?product=NK&current=true")
                if s["stage"] == "release")
    lab.post("admin", f"/qc-specifications/{spec['id']}/revise", {
        "reason": "fuzz: a change to decide", "tests": [
            {k: t[k] for k in ("test", "name", "kind", "comparator", "limit_value", "unit",
                               "expected_outcome")} for t in spec["tests"][1:]]})
    recalled = lab.released_nk("FZ-RCL")  # SPEC §3b: a recall with a site notification
    moved = lab.get("technician", f"/batches/{recalled['id']}/doses")[0]
    matrix = lab.get("technician", f"/doses/{moved['id']}")["barcodes"]["matrix"]
    for event, where in (("retrieved", "cleanroom"), ("shipped", "courier"),
                         ("received", "ward")):
        lab.post("technician", f"/doses/{moved['id']}/custody",
                 {"event": event, "location": where, "scanned_code": matrix})
    lab.post("qa", f"/batches/{recalled['id']}/recall",
             {"password": TEST_PASSWORD, "meaning": "approval", "reason": "fuzz recall",
              "username": "fuzz-qa"})
    lab.post("qa", f"/batches/{recalled['id']}/recall/notifications",
             {"kind": "site", "site": "ward", "recipient": "Head nurse", "method": "phone"})
    donor = lab.post("technician", "/subjects", {
        "code": "FZ-DONOR", "kind": "donor", "initials": "FD", "date_of_birth": "1990-01-01"})
    lab.post("technician", f"/subjects/{donor['id']}/donor-screening", {
        "specimen_collected_at": datetime.now(UTC).isoformat(),
        "markers": {m: "negative" for m in ("hiv_1", "hiv_2", "hbsag", "anti_hbc",
                                            "hcv_antibody", "hcv_nat", "syphilis", "htlv",
                                            "cmv")}})
    screening = lab.get("technician", f"/subjects/{donor['id']}/donor-screenings")[0]
    lab.post("technician", f"/donor-screenings/{screening['id']}/corrections",
             {"markers": {"cmv": "reactive"}, "reason": "fuzz correction"})
    return {"app": app, "client": client, "tokens": tokens, "users": users,
            "ids": _real_ids(app, users), "answers": Counter(),
            "password_hashes": _password_hashes(app, users)}


def _password_hashes(app, users: dict[str, int]) -> dict[int, str]:
    from lims.auth.models import User
    from lims.db import db

    with app.app_context():
        return {user_id: db.session.get(User, user_id).password_hash
                for user_id in users.values()}


class _Records:
    """Setup through the API (so every record is whole: audited, custody, evaluation)."""

    def __init__(self, client, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def post(self, who: str, path: str, body: dict, expect: int | None = None) -> dict:
        response = self.client.post(f"/api/v1{path}", json=body, headers={
            "Authorization": f"Bearer {self.tokens[who]}"})
        assert response.status_code == expect if expect else response.status_code < 300, \
            (path, response.status_code, response.json)
        return response.json

    def get(self, who: str, path: str):
        response = self.client.get(f"/api/v1{path}", headers={
            "Authorization": f"Bearer {self.tokens[who]}"})
        assert response.status_code == 200, (path, response.json)
        return response.json

    def batch(self, code: str, product: str) -> dict:
        patient = self.post("technician", "/subjects", {
            "code": code, "kind": "patient", "initials": "FZ", "date_of_birth": "1980-01-01"})
        self.post("technician", f"/subjects/{patient['id']}/recipient-screening",
                  {"contraindications": []})
        collection = self.post("technician", "/collections", {
            "subject_id": patient["id"], "source": "bone_marrow", "volume_ml": 10.0,
            "collected_at": (datetime.now(UTC) - timedelta(days=1)).isoformat()})
        return self.post("technician", "/batches", {
            "collection_id": collection["id"], "product": product, "origin": "autologous",
            "recipient_id": patient["id"]})

    def released_nk(self, code: str) -> dict:
        batch = self.batch(code, "NK")
        self.post("technician", f"/batches/{batch['id']}/steps", {
            "type": "seeding", "performed_at": (datetime.now(UTC) - timedelta(
                hours=1)).isoformat()})
        self.post("technician", f"/batches/{batch['id']}/steps",
                  {"type": "harvest", "cell_count": 100_000_000, "viability_pct": 92.0})
        self.post("technician", f"/batches/{batch['id']}/doses",
                  {"count": 3, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
        for body in NK_PASSING:
            result = self.post("technician", f"/batches/{batch['id']}/qc-results", body)
            self.post("reviewer", f"/qc-results/{result['id']}/review", {})
        self.post("qa", f"/batches/{batch['id']}/release",  # user id: SPEC §8 first signing
                  {"password": TEST_PASSWORD, "meaning": "approval", "username": "fuzz-qa"})
        return batch


def _real_ids(app, users: dict[str, int]) -> dict[str, list]:
    """Path parameter name → ids of rows that exist."""
    from lims.db import db

    tables = {"subject_id": "subject", "collection_id": "collection", "batch_id": "batch",
              "step_id": "culture_step", "dose_id": "dose", "result_id": "qc_result",
              "deviation_id": "deviation", "alert_id": "alert", "spec_id": "qc_specification",
              "template_id": "process_template", "change_id": "change_proposal",
              "notification_id": "recall_notification", "screening_id": "donor_screening",
              "correction_id": "donor_marker_correction"}
    with app.app_context():
        ids = {name: [row[0] for row in db.session.execute(text(f"SELECT id FROM {table}"))]
               for name, table in tables.items()}
        ids["code"] = [row[0] for row in db.session.execute(text("SELECT code FROM product"))]
    ids["user_id"] = sorted(users.values())
    missing = [name for name, found in ids.items() if not found]
    assert not missing, f"no records for {missing}"
    return ids


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


def _strategy(operation, real_ids: dict[str, list]):
    """Valid input, and input that breaks the schema (where such input can be made); in
    most cases with ids in the path, those ids are of rows that exist."""
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        negative = operation.as_strategy(GenerationMode.NEGATIVE)
    except Exception:  # noqa: BLE001 — nothing to negate (no parameters, no body)
        cases = positive
    else:
        cases = st.one_of(positive, negative)

    def with_real_ids(drawn):
        case, rnd = drawn
        for name in list(case.path_parameters or {}):
            if name in real_ids and rnd.random() < REAL_ID_SHARE:
                case.path_parameters[name] = rnd.choice(real_ids[name])
        return case

    return st.tuples(cases, st.randoms(use_true_random=False)).map(with_real_ids)


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
    @given(case=_strategy(operation, fuzz_lab["ids"]))
    @settings(FUZZ_SETTINGS, max_examples=examples)
    def run(case):
        for role in roles:
            _restore(fuzz_lab, role)
            response = case.call_and_validate(headers=_headers(fuzz_lab, case, role),
                                              checks=CHECKS)
            fuzz_lab["answers"][response.status_code // 100] += 1

    return run


def _restore(fuzz_lab, role: str) -> None:
    """Undo what a fuzzed call may have done to the acting accounts (deactivated, demoted,
    locked, password reset — each of which also ends their tokens), so every case runs with
    a working token of its role."""
    from sqlalchemy import update

    from lims.auth.models import ApiToken, User
    from lims.db import db

    with fuzz_lab["app"].app_context():
        for each, user_id in fuzz_lab["users"].items():  # through the session: audited
            user = db.session.get(User, user_id)        # (bulk update() is refused)
            user.active, user.role, user.failed_logins = True, each, 0
            user.locked_at = user.locked_until = None
            user.must_change_password = False
            user.password_hash = fuzz_lab["password_hashes"][user_id]
        db.session.execute(update(ApiToken).where(
            ApiToken.user_id.in_(list(fuzz_lab["users"].values()))).values(
            revoked_at=None, revoked_reason=None))
        db.session.commit()


def _headers(fuzz_lab, case, role: str) -> dict[str, str]:
    if (case.method.upper(), case.path) == ("DELETE", "/api/v1/auth/tokens/current"):
        # Revoking must not revoke the token the other cases use: a token of its own.
        return {"Authorization": f"Bearer {_token(fuzz_lab['client'], f'fuzz-{role}')}"}
    return {"Authorization": f"Bearer {fuzz_lab['tokens'][role]}"}


def test_every_operation_as_the_role_that_may_use_it(fuzz_lab):
    _fuzz(fuzz_lab, lambda method, path: [ROLE_OF.get((method, path), "technician")],
          EXAMPLES)
    # The cases got past validation into the services, on real rows, often enough.
    answers = fuzz_lab["answers"]
    print(f"answers by status class: {dict(answers)}")
    assert answers[2] >= 0.15 * sum(answers.values()), dict(answers)


def test_every_operation_as_the_other_roles(fuzz_lab):
    """Fewer examples: the role checks must answer documented errors, never a 5xx."""
    def others(method, path):
        return [r for r in ROLES if r != ROLE_OF.get((method, path), "technician")]

    _fuzz(fuzz_lab, others, max(3, EXAMPLES // 5))


def test_role_of_names_every_operation_a_technician_may_not_use(app):
    """Every route whose ``role_required`` leaves technicians out is in ROLE_OF, with a role
    it allows (else the first pass would only ever see its 403)."""
    from flask_smorest.spec.plugins import FlaskPlugin

    expected = {}
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "lims_roles", None)
        if not rule.rule.startswith("/api/") or not roles or "technician" in roles:
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            expected[(method, FlaskPlugin.flaskpath2openapi(rule.rule))] = \
                {str(role) for role in roles}
    wrong = {op: (ROLE_OF.get(op), sorted(roles)) for op, roles in expected.items()
             if ROLE_OF.get(op) not in roles}
    assert not wrong, wrong
    assert set(ROLE_OF) <= set(expected), set(ROLE_OF) - set(expected)


def test_no_operation_documents_a_catch_all_default_response(app, client):
    """The status-code check must mean something: every status an operation may answer is
    documented one by one (SPEC §7), never a ``default``."""
    spec = client.get("/api/openapi.json").json
    defaults = [f"{method.upper()} {path}" for path, operations in spec["paths"].items()
                for method, operation in operations.items()
                if isinstance(operation, dict) and "default" in operation.get("responses", {})]
    assert not defaults, defaults
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            statuses = set(operation["responses"])
            if (method, path) != ("post", "/api/v1/auth/tokens"):
                assert "401" in statuses, (method, path, statuses)
            if "{" in path:
                assert "404" in statuses, (method, path, statuses)
            assert any(s.startswith("2") for s in statuses), (method, path, statuses)
