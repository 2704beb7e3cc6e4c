"""Change control of process templates through the API (issue 12): proposed by an admin or
QA officer, active only once another QA officer signs the approval, the previous version
kept; every refusal writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.fixtures.records import audit_entries
from tests.fixtures.users import TEST_PASSWORD

TABLES = ("change_proposal", "process_template", "template_rule", "signature", "audit_entry")


def counts(app, tables=TABLES) -> dict[str, int]:
    from lims.db import db

    with app.app_context():
        return {t: db.session.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in tables}


def template(lab, product: str = "MSC") -> dict:
    return next(t for t in lab.client.get("/api/v1/process-templates", headers=lab.tech).json
                if t["product"] == product)


def propose(lab, headers: dict, status: int = 201, **body: Any) -> dict:
    response = lab.client.post("/api/v1/process-template-changes", headers=headers,
                               json={"product": "MSC", "reason": "PV-12", **body})
    assert response.status_code == status, response.json
    return response.json


def act(lab, change_id: int, act_: str, headers: dict, status: int, **body: Any) -> dict:
    response = lab.client.post(f"/api/v1/process-template-changes/{change_id}/{act_}",
                               json=body, headers=headers)
    assert response.status_code == status, response.json
    return response.json


def approve(lab, change_id: int, headers: dict, status: int = 200, **body: Any) -> dict:
    return act(lab, change_id, "approve", headers, status,
               **{"password": TEST_PASSWORD, "meaning": "approval", **body})


def test_a_template_change_is_active_only_from_qa_approval(app, lab, admin, api_headers):
    v1 = template(lab)
    change = propose(lab, admin, max_passage=7, reason="extended culture validated (PV-12)")
    assert change["status"] == "proposed" and change["base_version"] == v1["version"]
    assert change["content"]["max_passage"] == 7 and change["content"]["rules"] == v1["rules"]
    assert change["weakening"] is True
    assert change["changes"] == [{"item": "maximum passage", "change": "maximum passage loosened",
                                  "before": "P5", "after": "P7", "effect": "weakens",
                                  "weakens": True}]
    between = lab.batch("MSC")  # registered after the proposal, before the approval
    assert between["template_version"] == v1["version"]
    assert template(lab)["version"] == v1["version"]

    approved = approve(lab, change["id"], api_headers("qa"))
    assert approved["status"] == "approved" and approved["result_version"] == v1["version"] + 1
    v2 = template(lab)
    assert v2["version"] == v1["version"] + 1 and v2["max_passage"] == 7
    assert lab.batch("MSC")["template_version"] == v2["version"]
    # the batch registered before the approval keeps version 1 and its maximum P5
    lab.step(between, "seeding")
    for number in range(1, 6):
        lab.step(between, "passage", passage=number)
    lab.step(between, "passage", status=409, passage=6)
    # the previous version is kept (retired), and its retirement is audited with the change
    old = lab.client.get(f"/api/v1/process-templates/{v1['id']}", headers=lab.tech).json
    assert old["active"] is False and old["max_passage"] == 5
    retired = audit_entries(app, "process_template", v1["id"])[-1]
    assert retired["changes"]["active"] == [True, False]
    assert retired["reason"] == f"change #{change['id']} approved: extended culture validated " \
                                "(PV-12)"


def test_rule_changes_are_shown_and_weakening_ones_flagged(lab, admin):
    v1 = template(lab)
    rules = [dict(r) for r in v1["rules"]]
    dropped = rules.pop()
    rules[0]["interval_hours"] += 24
    rules[0]["grace_hours"] = max(rules[0]["grace_hours"] - 6, 0)
    rules.append({"after_step": "seeding", "next_step": "feeding", "interval_hours": 24,
                  "grace_hours": 2})
    change = propose(lab, admin, rules=rules, name="MSC expansion (revised)")
    items = {(c["item"], c["change"]): c for c in change["changes"]}
    removed = items[(f"{dropped['next_step']} after {dropped['after_step']}",
                     "rule removed: the step is no longer scheduled")]
    assert removed["weakens"]
    first = f"{rules[0]['next_step']} after {rules[0]['after_step']}"
    assert items[(first, "interval lengthened")]["weakens"]
    assert items[(first, "grace shortened")]["effect"] == "tightens"
    assert items[("feeding after seeding", "rule added")]["effect"] == "tightens"
    assert items[("name", "renamed")]["effect"] == "neutral"


def test_the_old_revisions_route_proposes(app, lab, qa):
    v1 = template(lab)
    response = lab.client.post(f"/api/v1/process-templates/{v1['id']}/revisions",
                               json={"max_passage": 4, "reason": "tighter"}, headers=qa)
    assert response.status_code == 202, response.json
    assert response.json["status"] == "proposed" and response.json["weakening"] is False
    assert template(lab)["version"] == v1["version"]


def test_a_technician_cannot_propose(app, lab):
    v1 = template(lab)
    before = counts(app)
    propose(lab, lab.tech, status=403, max_passage=9)
    assert lab.client.post(f"/api/v1/process-templates/{v1['id']}/revisions",
                           json={"max_passage": 9, "reason": "x"},
                           headers=lab.tech).status_code == 403
    assert counts(app) == before


@pytest.mark.parametrize("role", ["admin", "technician"])
def test_only_qa_decides(app, lab, admin, api_headers, role):
    change = propose(lab, admin, max_passage=4)
    someone = api_headers(role)
    before = counts(app)
    approve(lab, change["id"], someone, status=403)
    act(lab, change["id"], "reject", someone, 403, password=TEST_PASSWORD, reason="no")
    assert counts(app) == before


def test_the_proposer_cannot_approve(app, lab, api_headers):
    proposer = api_headers("qa")
    change = propose(lab, proposer, max_passage=4)
    before = counts(app)
    refused = approve(lab, change["id"], proposer, status=409)
    assert "four eyes" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before
    assert template(lab)["max_passage"] == 5


def test_a_wrong_password_is_counted_and_changes_nothing(app, lab, admin, make_user):
    from lims.auth.models import User
    from lims.db import db

    change = propose(lab, admin, max_passage=4)
    _id, name = make_user("qa")
    token = lab.client.post("/api/v1/auth/tokens",
                            json={"username": name, "password": TEST_PASSWORD}).json["token"]
    before = counts(app, TABLES[:-1])
    wrong = approve(lab, change["id"], {"Authorization": f"Bearer {token}"}, status=401,
                    password="wrong-password-1", username=name)
    assert wrong["error"] == "invalid_credentials"
    with app.app_context():
        assert db.session.get(User, _id).failed_logins == 1
    assert counts(app, TABLES[:-1]) == before


def test_a_stale_change_cannot_be_approved(app, lab, admin, api_headers):
    first = propose(lab, admin, max_passage=4)
    approve(lab, first["id"], api_headers("qa"))
    # a change proposed against version 2 …
    stale = propose(lab, admin, max_passage=3)
    # … while version 3 takes effect outside change control (a data migration, say)
    _activate_a_new_version_directly(app)
    assert lab.client.get(f"/api/v1/process-template-changes/{stale['id']}",
                          headers=lab.tech).json["stale"] is True
    qa = api_headers("qa")
    before = counts(app)
    refused = approve(lab, stale["id"], qa, status=409)
    assert "propose again" in " ".join(refused["details"]["reasons"])
    assert counts(app) == before


def test_one_open_change_per_template(app, lab, admin, api_headers):
    change = propose(lab, admin, max_passage=4)
    qa = api_headers("qa")
    before = counts(app)
    second = propose(lab, qa, status=409, max_passage=6)
    assert second["details"]["open_change_id"] == change["id"]
    assert counts(app) == before
    propose(lab, qa, product="NK", max_passage=2)  # another product's template is free


def test_bad_template_proposals_are_400(app, lab, admin):
    before = counts(app)
    twice = [{"after_step": "seeding", "next_step": "media_change", "interval_hours": 72,
              "grace_hours": 12}] * 2
    propose(lab, admin, status=400, rules=twice)
    propose(lab, admin, status=400, product="NOPE", max_passage=3)
    propose(lab, admin, status=400, max_passage=5)  # changes nothing
    propose(lab, admin, status=400, max_passage=3, reason="")
    assert counts(app) == before


def test_rejection_and_withdrawal(app, lab, admin, api_headers):
    change = propose(lab, admin, max_passage=4)
    qa = api_headers("qa")
    rejected = act(lab, change["id"], "reject", qa, 200, password=TEST_PASSWORD,
                   reason="not validated")
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == "not validated"
    before = counts(app)
    act(lab, change["id"], "withdraw", admin, 409, reason="too late")
    approve(lab, change["id"], qa, status=409)
    assert counts(app) == before
    again = propose(lab, admin, max_passage=4, reason="validated now")
    assert act(lab, again["id"], "withdraw", admin, 200, reason="wrong product")["status"] == \
        "withdrawn"
    assert template(lab)["version"] == 1


def test_the_list_is_paged_and_filtered(lab, admin):
    for product in ("MSC", "NK"):
        change = propose(lab, admin, product=product, max_passage=3)
        act(lab, change["id"], "withdraw", admin, 200, reason="test")
    propose(lab, admin, max_passage=4)
    first = lab.client.get("/api/v1/process-template-changes?limit=2", headers=lab.tech)
    assert first.status_code == 200 and len(first.json) == 2
    link = first.headers["Link"]
    second = lab.client.get(link[1:link.index(">")], headers=lab.tech)
    assert len(second.json) == 1 and "Link" not in second.headers
    withdrawn = lab.client.get("/api/v1/process-template-changes?status=withdrawn",
                               headers=lab.tech).json
    assert {c["product"] for c in withdrawn} == {"MSC", "NK"}


def _activate_a_new_version_directly(app) -> None:
    from sqlalchemy import select

    from batches.models import ProcessTemplate, TemplateRule
    from lims.db import db

    with app.app_context():
        current = db.session.scalar(select(ProcessTemplate).where(
            ProcessTemplate.active.is_(True), ProcessTemplate.product.has(code="MSC")))
        current.active = False
        db.session.flush()
        new = ProcessTemplate(product_id=current.product_id, version=current.version + 1,
                              name=current.name, max_passage=6, active=True)
        db.session.add(new)
        db.session.flush()
        for rule in current.rules:
            db.session.add(TemplateRule(template_id=new.id, after_step=rule.after_step,
                                        next_step=rule.next_step,
                                        interval_hours=rule.interval_hours,
                                        grace_hours=rule.grace_hours))
        db.session.commit()
