"""Change control of QC specifications through the API (issue 12).

A change is proposed by an admin or QA officer, has no effect until a QA officer other than
the proposer signs its approval, then is in force from the signing time with the previous
version kept. Every refusal is tested with what it must not have written.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from tests.fixtures.users import TEST_PASSWORD

CHANGE_TABLES = ("change_proposal", "qc_specification", "qc_spec_test", "process_template",
                 "template_rule", "signature")
SPEC_FIELDS = ("test", "name", "kind", "comparator", "limit_value", "unit", "expected_outcome")


def counts(app, tables=CHANGE_TABLES + ("audit_entry",)) -> dict[str, int]:
    from lims.db import db

    with app.app_context():
        return {t: db.session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in tables}


def failed_logins(app, headers_user: str) -> int:
    from lims.auth.models import User
    from lims.db import db

    with app.app_context():
        return db.session.scalar(select(User.failed_logins).where(User.username == headers_user))


class Changes:
    """The change-control calls of the spec API, asserting the status."""

    def __init__(self, client, tech: dict) -> None:
        self.client, self.tech = client, tech

    def release_spec(self, product: str = "MSC") -> dict:
        specs = self.client.get(f"/api/v1/qc-specifications?product={product}&current=true",
                                headers=self.tech).json
        return next(s for s in specs if s["stage"] == "release")

    def tests_of(self, spec: dict) -> list[dict]:
        return [{k: t[k] for k in SPEC_FIELDS} for t in spec["tests"]]

    def propose(self, headers: dict, tests: list[dict], status: int = 201,
                reason: str = "annual review", product: str = "MSC", stage: str = "release"):
        response = self.client.post("/api/v1/qc-specification-changes", headers=headers, json={
            "product": product, "stage": stage, "reason": reason, "tests": tests})
        assert response.status_code == status, response.json
        return response.json

    def get(self, change_id: int) -> dict:
        response = self.client.get(f"/api/v1/qc-specification-changes/{change_id}",
                                   headers=self.tech)
        assert response.status_code == 200, response.json
        return response.json

    def act(self, change_id: int, act: str, headers: dict, status: int, **body: Any):
        response = self.client.post(f"/api/v1/qc-specification-changes/{change_id}/{act}",
                                    json=body, headers=headers)
        assert response.status_code == status, response.json
        return response.json

    def approve(self, change_id: int, headers: dict, status: int = 200, **body: Any):
        return self.act(change_id, "approve", headers, status,
                        **{"password": TEST_PASSWORD, "meaning": "approval", **body})


@pytest.fixture
def changes(client, tech):
    return Changes(client, tech)


def _with(tests: list[dict], code: str, **values) -> list[dict]:
    return [{**t, **values} if t["test"] == code else t for t in tests]


# -- the change takes effect only when approved ------------------------------------------------


def test_a_change_is_in_force_only_from_qa_approval(app, qlab, changes, admin, api_headers):
    spec = changes.release_spec()
    tests = _with(changes.tests_of(spec), "viability", limit_value=80.0)
    before_proposal = qlab.in_review()
    change = changes.propose(admin, tests, reason="tighter viability limit (CC-7)")
    assert change["status"] == "proposed" and change["base_version"] == spec["version"]
    assert change["result_version"] is None and change["weakening"] is False
    assert change["changes"] == [{"item": "viability", "change": "limit tightened",
                                  "before": ">= 70 %", "after": ">= 80 %",
                                  "effect": "tightens", "weakens": False}]

    between = qlab.in_review()  # registered after the proposal, before the approval
    assert changes.release_spec()["version"] == spec["version"]
    assert qlab.result(between, "viability", value=75.0, unit="%")["evaluation"] == "pass"

    approved = changes.approve(change["id"], api_headers("qa"))
    assert approved["status"] == "approved" and approved["result_version"] == spec["version"] + 1
    assert approved["signature"]["meaning"] == "approval" and approved["signature_holds"] is True
    assert approved["signature"]["content_hash"] == approved["digest"]
    assert approved["decided_at"] == approved["signature"]["signed_at"]
    after = qlab.in_review()
    assert qlab.result(after, "viability", value=75.0, unit="%")["evaluation"] == "fail"
    # batches registered before the approval keep the version they were registered with
    for batch in (before_proposal, between):
        judged = qlab.client.get(f"/api/v1/batches/{batch['id']}/qc-specification",
                                 headers=qlab.tech).json
        assert judged["version"] == spec["version"]
    assert qlab.result(before_proposal, "viability", value=75.0, unit="%")["evaluation"] == "pass"
    # the previous version is kept and listed; the new one is in force from the signing time
    versions = qlab.client.get("/api/v1/qc-specifications?product=MSC", headers=qlab.tech).json
    release = [s for s in versions if s["stage"] == "release"]
    assert [s["version"] for s in release] == [spec["version"], spec["version"] + 1]
    assert release[-1]["effective_from"] == approved["signature"]["signed_at"]
    assert release[-1]["change_reason"] == "tighter viability limit (CC-7)"
    # audited: the proposal, its approval, the new version with the change as reason
    from tests.fixtures.records import audit_entries

    trail = audit_entries(app, "change_proposal", change["id"])
    assert [e["action"] for e in trail] == ["create", "update"]
    assert trail[0]["reason"] == "tighter viability limit (CC-7)"
    assert trail[1]["changes"]["status"] == ["proposed", "approved"]
    assert audit_entries(app, "qc_specification", release[-1]["id"])[0]["reason"] == \
        f"change #{change['id']} approved: tighter viability limit (CC-7)"


def test_the_approval_screen_flags_every_weakening_change(changes, admin):
    spec = changes.release_spec()
    tests = [t for t in changes.tests_of(spec)
             if t["test"] not in ("sterility", "mycoplasma", "endotoxin")]
    tests = _with(tests, "viability", limit_value=2.0)
    tests = _with(tests, "cd45", limit_value=1.0)  # tightened
    tests = _with(tests, "cd73", unit="‰")
    tests += [{"test": "cd44", "name": "CD44+", "kind": "numeric", "comparator": ">=",
               "limit_value": 90.0, "unit": "%", "expected_outcome": None}]
    change = changes.get(changes.propose(admin, tests)["id"])
    assert change["weakening"] is True
    by_item = {(c["item"], c["change"]): c for c in change["changes"]}
    for code in ("sterility", "mycoplasma", "endotoxin"):
        removed = by_item[(code, "release test removed: no longer a release condition")]
        assert removed["weakens"] and removed["after"] is None
    assert by_item[("viability", "limit loosened")]["before"] == ">= 70 %"
    assert by_item[("viability", "limit loosened")]["after"] == ">= 2 %"
    assert by_item[("viability", "limit loosened")]["weakens"]
    assert not by_item[("cd45", "limit tightened")]["weakens"]
    unit = next(c for c in change["changes"] if c["item"] == "cd73")
    assert unit["weakens"] and "unit changed" in unit["change"]
    assert by_item[("cd44", "release test added")]["effect"] == "tightens"


def test_an_approval_signature_is_void_once_the_change_is_edited_in_the_database(
        app, changes, admin, api_headers):
    from tests.fixtures.database import tamper

    spec = changes.release_spec()
    change = changes.propose(admin, _with(changes.tests_of(spec), "viability", limit_value=80.0))
    assert changes.approve(change["id"], api_headers("qa"))["signature_holds"] is True
    tamper(app, "UPDATE change_proposal SET reason = 'something else' "
                f"WHERE id = {change['id']}")
    assert changes.get(change["id"])["signature_holds"] is False


def test_a_rejection_is_signed_with_a_reason_and_changes_nothing(app, changes, admin,
                                                               api_headers):
    spec = changes.release_spec()
    change = changes.propose(admin, _with(changes.tests_of(spec), "viability", limit_value=60.0))
    qa = api_headers("qa")
    changes.act(change["id"], "reject", qa, 400, password=TEST_PASSWORD)  # no reason
    rejected = changes.act(change["id"], "reject", qa, 200, password=TEST_PASSWORD,
                           meaning="rejection", reason="no validation data for 60 %")
    assert rejected["status"] == "rejected" and rejected["signature"]["meaning"] == "rejection"
    assert rejected["decision_reason"] == "no validation data for 60 %"
    assert changes.release_spec()["version"] == spec["version"]
    another_qa = api_headers("qa")
    before = counts(app)
    refused = changes.approve(change["id"], another_qa, status=409)
    assert "no longer open" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before


def test_the_proposer_withdraws_and_may_then_propose_again(app, changes, admin, api_headers):
    spec = changes.release_spec()
    tests = _with(changes.tests_of(spec), "viability", limit_value=75.0)
    change = changes.propose(admin, tests)
    second = changes.propose(api_headers("qa"), tests, status=409)
    assert second["details"]["open_change_id"] == change["id"]
    other_admin = api_headers("admin")
    before = counts(app)
    refused = changes.act(change["id"], "withdraw", other_admin, 409, reason="not mine")
    assert "only the proposer" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before
    withdrawn = changes.act(change["id"], "withdraw", admin, 200, reason="wrong limit")
    assert withdrawn["status"] == "withdrawn" and withdrawn["signature"] is None
    again = changes.propose(admin, _with(tests, "viability", limit_value=72.0))
    assert again["status"] == "proposed"


def test_the_old_revise_route_proposes(app, changes, admin, qa):
    spec = changes.release_spec()
    tests = _with(changes.tests_of(spec), "viability", limit_value=75.0)
    response = changes.client.post(f"/api/v1/qc-specifications/{spec['id']}/revise",
                                   json={"reason": "review", "tests": tests}, headers=qa)
    assert response.status_code == 202, response.json
    assert response.json["status"] == "proposed" and response.json["stage"] == "release"
    assert changes.release_spec()["version"] == spec["version"]


def test_a_proposal_that_changes_nothing_is_refused(app, changes, admin):
    spec = changes.release_spec()
    before = counts(app)
    refused = changes.propose(admin, changes.tests_of(spec), status=400)
    assert "changes nothing" in refused["message"]
    assert counts(app) == before


# -- refusals, each with nothing written -------------------------------------------------------


def test_a_technician_cannot_propose(app, changes, tech):
    spec = changes.release_spec()
    before = counts(app)
    changes.propose(tech, changes.tests_of(spec)[:1], status=403)
    response = changes.client.post(f"/api/v1/qc-specifications/{spec['id']}/revise", json={
        "reason": "x", "tests": changes.tests_of(spec)[:1]}, headers=tech)
    assert response.status_code == 403
    assert counts(app) == before


@pytest.mark.parametrize("role", ["admin", "technician"])
def test_only_qa_approves_or_rejects(app, changes, admin, api_headers, role):
    spec = changes.release_spec()
    change = changes.propose(admin, changes.tests_of(spec)[:4])
    someone = api_headers(role)
    before = counts(app)
    changes.approve(change["id"], someone, status=403)
    changes.act(change["id"], "reject", someone, 403, password=TEST_PASSWORD, reason="no")
    assert counts(app) == before
    assert changes.get(change["id"])["status"] == "proposed"


def test_the_proposer_cannot_approve_their_own_change(app, changes, api_headers):
    spec = changes.release_spec()
    proposer = api_headers("qa")
    change = changes.propose(proposer, changes.tests_of(spec)[:4])
    before = counts(app)
    refused = changes.approve(change["id"], proposer, status=409)
    assert "four eyes" in " ".join(refused["details"]["reasons"])
    rejected = changes.act(change["id"], "reject", proposer, 409, password=TEST_PASSWORD,
                           reason="changed my mind")
    assert "withdraw it instead" in " ".join(rejected["details"]["reasons"])
    assert counts(app) == before
    assert changes.release_spec()["version"] == spec["version"]


def test_a_wrong_password_is_refused_and_counted(app, client, make_user, changes, admin):
    spec = changes.release_spec()
    change = changes.propose(admin, changes.tests_of(spec)[:4])
    _id, name = make_user("qa")
    token = client.post("/api/v1/auth/tokens",
                        json={"username": name, "password": TEST_PASSWORD}).json["token"]
    before = counts(app, CHANGE_TABLES)
    wrong = changes.approve(change["id"], {"Authorization": f"Bearer {token}"}, status=401,
                            password="not-the-password", username=name)
    assert wrong["error"] == "invalid_credentials"
    assert failed_logins(app, name) == 1, "the wrong password counts towards the lockout"
    assert counts(app, CHANGE_TABLES) == before
    assert changes.get(change["id"])["status"] == "proposed"
    assert changes.release_spec()["version"] == spec["version"]


def test_a_stale_change_cannot_be_approved(app, changes, admin, api_headers):
    """Another version took effect after the change was proposed (here written as a data
    migration or a seed would, outside change control): the change is stale."""
    spec = changes.release_spec()
    change = changes.propose(admin, _with(changes.tests_of(spec), "viability",
                                          limit_value=90.0))
    _new_version_outside_change_control(app, spec)
    assert changes.get(change["id"])["stale"] is True
    qa = api_headers("qa")
    before = counts(app)
    refused = changes.approve(change["id"], qa, status=409)
    assert "propose again" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before
    assert changes.release_spec()["version"] == spec["version"] + 1


def test_approval_of_something_else_than_was_shown_is_refused(app, changes, admin, api_headers):
    spec = changes.release_spec()
    change = changes.propose(admin, changes.tests_of(spec)[:4])
    shown = changes.get(change["id"])["digest"]
    qa = api_headers("qa")
    before = counts(app)
    refused = changes.approve(change["id"], qa, status=409, digest="0" * 64)
    assert "not the change on record" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before
    assert changes.approve(change["id"], qa, digest=shown)["status"] == "approved"


def test_only_the_approval_meaning_signs_an_approval(app, changes, admin, api_headers):
    spec = changes.release_spec()
    change = changes.propose(admin, changes.tests_of(spec)[:4])
    qa = api_headers("qa")
    before = counts(app)
    bad = changes.approve(change["id"], qa, status=400, meaning="review")
    assert "meaning" in bad["details"]["fields"]
    assert counts(app) == before


def test_bad_proposals_are_400(app, changes, admin):
    spec = changes.release_spec()
    before = counts(app)
    tests = changes.tests_of(spec)
    changes.propose(admin, tests + tests[:1], status=400)  # a test twice
    changes.propose(admin, tests, status=400, product="XYZ")
    changes.propose(admin, tests, status=400, stage="final")
    changes.propose(admin, [], status=400)
    changes.propose(admin, tests[:2], status=400, reason="")
    assert counts(app) == before
    assert changes.client.get("/api/v1/qc-specification-changes/999999",
                              headers=changes.tech).status_code == 404


def test_a_template_change_is_not_a_spec_change(changes, admin, client):
    templates = client.get("/api/v1/process-templates", headers=changes.tech).json
    change = client.post("/api/v1/process-template-changes", headers=admin, json={
        "product": "NK", "max_passage": 3, "reason": "x"})
    assert change.status_code == 201, change.json
    assert client.get(f"/api/v1/qc-specification-changes/{change.json['id']}",
                      headers=changes.tech).status_code == 404
    assert templates


# -- lists are paged ---------------------------------------------------------------------------


def test_the_list_of_changes_is_paged(changes, admin, api_headers, client):
    for product, stage in (("MSC", "release"), ("NK", "release"), ("MSC", "in_process"),
                           ("NK", "in_process")):
        specs = client.get(f"/api/v1/qc-specifications?product={product}&current=true",
                           headers=changes.tech).json
        spec = next(s for s in specs if s["stage"] == stage)
        renamed = [{**t, "name": t["name"] + " (revised)"} for t in changes.tests_of(spec)]
        changes.propose(admin, renamed, product=product, stage=stage)
    seen, url = [], "/api/v1/qc-specification-changes?limit=3&status=proposed"
    while url:
        page = client.get(url, headers=changes.tech)
        assert page.status_code == 200 and len(page.json) <= 3
        seen += [c["id"] for c in page.json]
        link = page.headers.get("Link")
        url = link[1:link.index(">")] if link else None
        if url:
            assert 'rel="next"' in link and "status=proposed" in url
    assert len(seen) == 4 and seen == sorted(seen)
    assert client.get("/api/v1/qc-specification-changes?limit=0",
                      headers=changes.tech).status_code == 400
    assert client.get("/api/v1/qc-specification-changes?limit=501",
                      headers=changes.tech).status_code == 400
    only_nk = client.get("/api/v1/qc-specification-changes?product=NK&stage=release",
                         headers=changes.tech).json
    assert [(c["product"], c["stage"]) for c in only_nk] == [("NK", "release")]


def test_openapi_documents_every_status_of_the_new_routes(client):
    spec = client.get("/api/openapi.json").json
    approve = spec["paths"]["/api/v1/qc-specification-changes/{change_id}/approve"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "423"} <= set(approve["responses"])
    listing = spec["paths"]["/api/v1/qc-specification-changes"]["get"]
    assert "Link" in listing["responses"]["200"]["headers"]
    revise = spec["paths"]["/api/v1/qc-specifications/{spec_id}/revise"]["post"]
    assert "202" in revise["responses"]


def _new_version_outside_change_control(app, spec: dict) -> None:
    from lims import clock
    from lims.db import db
    from qc.models import Specification, SpecTest

    with app.app_context():
        old = db.session.get(Specification, spec["id"])
        new = Specification(product_id=old.product_id, stage=old.stage, version=old.version + 1,
                            effective_from=clock.utcnow(), change_reason="data migration")
        db.session.add(new)
        db.session.flush()
        for test in old.tests:
            db.session.add(SpecTest(specification_id=new.id, position=test.position,
                                    test=test.test, name=test.name, kind=test.kind,
                                    comparator=test.comparator, limit_value=test.limit_value,
                                    unit=test.unit, expected_outcome=test.expected_outcome))
        db.session.commit()


# -- concurrent requests -----------------------------------------------------------------------


def test_concurrent_proposals_and_approvals_decide_once(app, changes, api_headers):
    """Proposals and decisions on one product queue on its row lock: of simultaneous
    proposals one is recorded, of simultaneous approvals one puts a version in force."""
    from concurrent.futures import ThreadPoolExecutor

    spec = changes.release_spec()
    proposers = [api_headers("admin") for _ in range(4)]

    def propose(n: int) -> int:
        tests = _with(changes.tests_of(spec), "viability", limit_value=71.0 + n)
        return app.test_client().post("/api/v1/qc-specification-changes", headers=proposers[n],
                                      json={"product": "MSC", "stage": "release",
                                            "reason": f"proposal {n}", "tests": tests}
                                      ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(propose, range(4)))
    assert statuses == [201, 409, 409, 409]
    open_ = changes.client.get("/api/v1/qc-specification-changes?status=proposed",
                               headers=changes.tech).json
    assert len(open_) == 1
    approvers = [api_headers("qa") for _ in range(4)]

    def approve(n: int) -> int:
        return app.test_client().post(
            f"/api/v1/qc-specification-changes/{open_[0]['id']}/approve", headers=approvers[n],
            json={"password": TEST_PASSWORD, "meaning": "approval"}).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(approve, range(4)))
    assert statuses == [200, 409, 409, 409]
    assert changes.release_spec()["version"] == spec["version"] + 1
    from lims.audit import verify

    with app.app_context():
        assert verify().intact
