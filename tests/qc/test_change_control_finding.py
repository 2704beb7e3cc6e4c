"""The finding of issue 12, reproduced through the API: an admin alone weakened the release
specification (sterility, mycoplasma, endotoxin… dropped) with a free-text reason, and the
next batch was released on one viability result of 2 %.

Under change control the admin's revision is only a proposal: nothing in force changes
until a QA officer signs its approval, so the next batch is still judged by the full
specification and its release is refused.
"""

from __future__ import annotations

WEAK = [{"test": "viability", "name": "Viability", "kind": "numeric", "comparator": ">=",
         "limit_value": 1.0, "unit": "%", "expected_outcome": None}]


def test_an_admin_alone_cannot_weaken_the_release_specification(qlab, client, admin):
    specs = client.get("/api/v1/qc-specifications?product=MSC&current=true",
                       headers=qlab.tech).json
    release = next(s for s in specs if s["stage"] == "release")
    revised = client.post(f"/api/v1/qc-specifications/{release['id']}/revise",
                          json={"reason": "simplify", "tests": WEAK}, headers=admin)
    assert revised.status_code == 202, revised.json
    assert revised.json["status"] == "proposed"

    batch = qlab.in_review()
    judged_by = client.get(f"/api/v1/batches/{batch['id']}/qc-specification",
                           headers=qlab.tech).json
    assert judged_by["version"] == release["version"]
    assert {"sterility", "mycoplasma", "endotoxin"} <= {t["test"] for t in judged_by["tests"]}
    result = qlab.result(batch, "viability", value=2.0, unit="%")
    assert result["evaluation"] == "fail"
    qlab.review(result)
    refused = qlab.release(batch, status=409)
    reasons = " ".join(refused.json["details"]["reasons"])
    assert "sterility" in reasons and "mycoplasma" in reasons
    after = client.get(f"/api/v1/batches/{batch['id']}", headers=qlab.tech).json
    assert after["status"] == "qc_review"
