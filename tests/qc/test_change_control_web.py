"""Change control of QC specifications on the bench terminal (issue 12): an admin proposes on
a form, the approval screen shows what changes with every weakening item flagged, a QA
officer other than the proposer signs with the signature dialog."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login


def _login(client, make_user, role: str) -> str:
    _id, name = make_user(role)
    assert web_login(client, name).status_code == 302
    return name


def _rows(app, model) -> int:
    from lims.db import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _release_spec(client, headers) -> dict:
    specs = client.get("/api/v1/qc-specifications?product=MSC&current=true", headers=headers).json
    return next(s for s in specs if s["stage"] == "release")


def _form(spec: dict, token: str, reason: str, drop=(), **limits) -> dict:
    data = {"csrf_token": token, "reason": reason}
    row = 0
    for test in spec["tests"]:
        if test["test"] in drop:
            continue
        for key in ("test", "name", "kind", "comparator", "unit", "expected_outcome"):
            if test[key] is not None:
                data[f"tests-{row}-{key}"] = test[key]
        if test["limit_value"] is not None:
            data[f"tests-{row}-limit_value"] = str(limits.get(test["test"], test["limit_value"]))
        row += 1
    return data


def test_an_admin_proposes_and_another_qa_officer_approves(app, client, make_user, tech):
    from batches.models import ChangeProposal
    from qc.models import Specification

    spec = _release_spec(client, tech)
    _login(client, make_user, "technician")
    page = client.get("/qc/specifications").get_data(as_text=True)
    assert "MSC · release" in page and "Propose a new version" not in page
    assert client.get(f"/qc/specifications/{spec['id']}/propose").status_code == 403

    _login(client, make_user, "admin")
    propose_url = f"/qc/specifications/{spec['id']}/propose"
    form_page = client.get(propose_url).get_data(as_text=True)
    assert 'name="tests-0-test" aria-label="test (row 1)" value="sterility"' in form_page
    token = csrf_token(client, propose_url)
    weak = _form(spec, token, "simplify", drop=("sterility", "mycoplasma", "endotoxin"),
                 viability=2)
    no_reason = client.post(propose_url, data={**weak, "reason": ""})
    assert no_reason.status_code == 400 and _rows(app, ChangeProposal) == 0
    bad_limit = client.post(propose_url, data={**weak, "tests-0-limit_value": "lots"})
    assert bad_limit.status_code == 400 and "Test 1" in bad_limit.get_data(as_text=True)
    assert _rows(app, ChangeProposal) == 0
    proposed = client.post(propose_url, data=weak)
    assert proposed.status_code == 302, proposed.get_data(as_text=True)
    change_url = proposed.headers["Location"]
    change_page = client.get(change_url).get_data(as_text=True)
    assert "This change weakens control (4 items)" in change_page
    assert "release test removed: no longer a release condition" in change_page
    assert "limit loosened" in change_page and "Sign approval" not in change_page
    listing = client.get("/qc/specifications").get_data(as_text=True)
    assert "awaits a QA decision" in listing

    proposer = _login(client, make_user, "qa")
    assert "Changes awaiting a QA decision" in client.get("/").get_data(as_text=True)
    assert "/qc/specification-changes/" in client.get("/changes").get_data(as_text=True)
    page = client.get(change_url).get_data(as_text=True)
    assert "Sign approval" in page and "Sign rejection" in page and proposer
    assert 'name="meaning"' in page and '<option value="approval"' in page
    assert '<option value="rejection"' not in page.split('id="reject-form"')[0]
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', page).group(1)
    token = csrf_token(client, change_url)
    wrong = client.post(change_url + "/approve", data={
        "csrf_token": token, "password": "not-my-password", "meaning": "approval",
        "digest": digest})
    assert wrong.status_code == 401 and "Wrong password" in wrong.get_data(as_text=True)
    assert _rows(app, Specification) == 4
    signed = client.post(change_url + "/approve", data={
        "csrf_token": token, "password": TEST_PASSWORD, "meaning": "approval",
        "digest": digest})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    page = client.get(change_url).get_data(as_text=True)
    assert "in force as version 2" in page and "approval" in page
    listing = client.get("/qc/specifications").get_data(as_text=True)
    assert "v2, in force since" in listing and "Earlier versions (1, kept)" in listing


def test_the_proposer_sees_no_approval_form_and_may_withdraw(app, client, make_user, tech):
    spec = _release_spec(client, tech)
    _login(client, make_user, "qa")
    propose_url = f"/qc/specifications/{spec['id']}/propose"
    token = csrf_token(client, propose_url)
    proposed = client.post(propose_url, data=_form(spec, token, "tighter", viability=80))
    assert proposed.status_code == 302
    change_url = proposed.headers["Location"]
    page = client.get(change_url).get_data(as_text=True)
    assert "another QA officer must approve it" in page and "Sign approval" not in page
    assert "weakens control" not in page and "limit tightened" in page
    refused = client.post(change_url + "/approve", data={
        "csrf_token": token, "password": TEST_PASSWORD, "meaning": "approval"})
    assert refused.status_code == 409 and "four eyes" in refused.get_data(as_text=True)
    withdrawn = client.post(change_url + "/withdraw", data={"csrf_token": token,
                                                             "reason": "typo in limit"})
    assert withdrawn.status_code == 302
    assert "withdrawn" in client.get(change_url).get_data(as_text=True)


def test_template_change_page_renders_for_every_role(client, make_user, admin):
    templates = client.get("/api/v1/process-templates", headers=admin).json
    change = client.post(f"/api/v1/process-templates/{templates[0]['id']}/revisions",
                         json={"max_passage": 9, "reason": "x"}, headers=admin).json
    for role in ("technician", "qa", "admin"):
        _login(client, make_user, role)
        page = client.get(f"/templates/changes/{change['id']}")
        assert page.status_code == 200 and "maximum passage loosened" in page.get_data(
            as_text=True)
    assert client.get("/templates/changes/99999").status_code == 404
