"""Specifications as versioned data, and the exceptional release (SPEC §2, §3)."""

from __future__ import annotations

from sqlalchemy import select

from tests.fixtures.users import TEST_PASSWORD


def test_migration_seeds_the_default_specifications(app):
    from lims.db import db
    from qc import spec_defaults
    from qc.models import Specification

    with app.app_context():
        for (product, stage), rows in spec_defaults.SPECIFICATIONS.items():
            spec = db.session.scalar(select(Specification).where(
                Specification.stage == stage, Specification.version == 1)
                .where(Specification.product.has(code=product)))
            got = [(t.test, t.name, t.kind, t.comparator, t.limit_value, t.unit,
                    t.expected_outcome) for t in spec.tests]
            assert got == [tuple(float(v) if isinstance(v, int) else v for v in row)
                           for row in rows]


def test_revision_applies_to_batches_registered_afterwards(qlab, client, admin,
                                                           nothing_written):
    old_batch = qlab.in_review()
    specs = client.get("/api/v1/qc-specifications?product=MSC&current=true",
                       headers=qlab.tech).json
    release = next(s for s in specs if s["stage"] == "release")
    tests = [{k: t[k] for k in ("test", "name", "kind", "comparator", "limit_value", "unit",
                                "expected_outcome")} for t in release["tests"]]
    for t in tests:
        if t["test"] == "viability":
            t["limit_value"] = 80.0
    body = {"reason": "tighter viability limit", "tests": tests}
    with nothing_written():
        assert client.post(f"/api/v1/qc-specifications/{release['id']}/revise", json=body,
                           headers=qlab.tech).status_code == 403
    # issue 12: revising proposes a change; it takes effect once a QA officer approves it
    proposed = client.post(f"/api/v1/qc-specifications/{release['id']}/revise", json=body,
                           headers=admin)
    assert proposed.status_code == 202, proposed.json
    assert proposed.json["status"] == "proposed" and proposed.json["result_version"] is None
    approved = client.post(f"/api/v1/qc-specification-changes/{proposed.json['id']}/approve",
                           json={"password": TEST_PASSWORD, "meaning": "approval"},
                           headers=qlab.signer)
    assert approved.status_code == 200, approved.json
    assert approved.json["result_version"] == 2
    new_batch = qlab.in_review()
    assert qlab.result(old_batch, "viability", value=75.0, unit="%")["evaluation"] == "pass"
    assert qlab.result(new_batch, "viability", value=75.0, unit="%")["evaluation"] == "fail"


def test_exceptional_release_needs_two_different_qa_signatures(qlab, client, api_headers):
    donor = qlab.donor("incomplete")
    batch = qlab.in_review(origin="allogeneic", donor=donor)
    qlab.all_results(batch, skip=("sterility",))
    standard = qlab.release(batch, status=409)
    assert {u["condition"] for u in standard.json["details"]["unmet"]} == {1, 3}
    request = {"password": TEST_PASSWORD, "physician_name": "Dr. A. Urgent",
               "physician_request": "Patient in critical condition; no alternative therapy."}
    first = qlab.post(f"/batches/{batch['id']}/exceptional-release", request,
                      headers=qlab.signer, status=201).json
    assert first["status"] == "qc_review"
    assert first["exceptional_release"]["status"] == "awaiting_second_signature"
    assert set(first["exceptional_release"]["pending_items"]) == {
        "sterility result pending", f"donor {donor['code']} screening incomplete"}
    same = qlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
                     {"password": TEST_PASSWORD}, headers=qlab.signer, status=409)
    assert "different QA officer" in " ".join(same.json["details"]["reasons"])
    second_qa = api_headers("qa")
    done = qlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
                     {"password": TEST_PASSWORD}, headers=second_qa, status=200).json
    assert done["status"] == "released" and done["urgent_medical_need"] is True
    assert len(done["signatures"]) == 2 and done["valid"] is True
    assert done["exceptional_release"]["physician_name"] == "Dr. A. Urgent"
    # the pending sterility result follows; it does not void the urgent release signatures
    follow_up = qlab.result(batch, "sterility")
    assert follow_up["after_release"] is True
    info = client.get(f"/api/v1/batches/{batch['id']}/release", headers=qlab.tech).json
    assert info["valid"] is True and info["urgent_medical_need"] is True


def test_exceptional_release_refused_when_nothing_is_pending(qlab):
    batch = qlab.ready()
    request = {"password": TEST_PASSWORD, "physician_name": "Dr. B",
               "physician_request": "urgent"}
    refused = qlab.post(f"/batches/{batch['id']}/exceptional-release", request,
                        headers=qlab.signer, status=409)
    assert "use the standard release" in refused.json["details"]["reasons"][0]


def test_batch_release_info_for_labels(qlab, app):
    batch = qlab.ready()
    qlab.release(batch)
    from batches.models import Batch
    from lims.db import db
    from qc.services import batch_release_info

    with app.app_context():
        info = batch_release_info(db.session.get(Batch, batch["id"]))
    assert info["released"] and info["valid"] and not info["urgent_medical_need"]
    assert info["signatures"][0]["meaning"] == "approval"
