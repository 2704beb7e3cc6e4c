"""SPEC §3 item 6: segregation of duties covers everyone who performed, entered or
corrected a culture step, QC result or dose of the batch.

Finding of issue 11: a QA officer who corrected a QC result (or a culture step) of a batch
then released that batch (200)."""

from __future__ import annotations

from tests.fixtures.release import count


def _unmet_6(response) -> list[str]:
    return [u["reason"] for u in response.json["details"]["unmet"] if u["condition"] == 6]


def test_whoever_corrected_a_result_cannot_release(rlab, api_headers, app):
    from batches.models import Batch

    batch = rlab.ready("NK")
    viability = rlab.results(batch)["viability"]
    rlab.correct(viability, headers=rlab.signer, value=90.0, unit="%")
    rlab.review(rlab.results(batch)["viability"])
    refused = rlab.release(batch, status=409)
    reasons = _unmet_6(refused)
    assert reasons and f"QC result #{viability['id']}" in reasons[0], refused.json
    assert "corrected" in reasons[0]
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "qc_review"
    assert count(app, Batch, Batch.status == "released") == 0
    assert rlab.release(batch, headers=api_headers("qa")).json["status"] == "released"


def test_whoever_corrected_a_step_cannot_release(rlab, api_headers):
    batch = rlab.ready("NK")
    steps = rlab.get(f"/batches/{batch['id']}/steps")
    harvest = next(s for s in steps if s["type"] == "harvest")
    response = rlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=rlab.signer,
                                 json={"viability_pct": 91.0, "reason": "recount"})
    assert response.status_code == 200, response.json
    reasons = _unmet_6(rlab.release(batch, status=409))
    assert len(reasons) == 1 and reasons[0].startswith("segregation of duties: the signer ")
    assert reasons[0].endswith(f" corrected viability_pct of the step #{harvest['id']}")
    rlab.release(batch, headers=api_headers("qa"))


def test_a_reviewer_may_still_release(rlab):
    batch = rlab.in_review("NK")
    rlab.all_results(batch, "NK", review=False)
    for result in rlab.results(batch).values():
        rlab.review(result, headers=rlab.signer)
    assert rlab.release(batch).json["status"] == "released"
