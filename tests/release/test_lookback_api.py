"""SPEC §3b look-back: from a donor, a collection or a failed test, every derived
collection, batch and dose with status, location and recipient; a reactive result on a
donor whose products were released opens a look-back alert on each affected batch."""

from __future__ import annotations

from tests.fixtures.lab import NEGATIVE, iso, now


def test_lookback_from_a_donor_a_collection_and_a_result(rlab):
    donor = rlab.donor("eligible")
    batch, doses = rlab.released(origin="allogeneic", donor=donor)
    first = rlab.dose(doses[0])
    rlab.custody(first, "retrieved")
    rlab.custody(first, "shipped", location="Courier", to_person="C. Courier")
    second_collection = rlab.collection(donor, "apheresis")
    in_culture = rlab.batch("MSC", origin="allogeneic", donor=donor,
                            collection=second_collection)

    found = rlab.get(f"/subjects/{donor['id']}/lookback")
    assert found["source"] == "subject" and donor["code"] in found["label"]
    assert {c["id"] for c in found["collections"]} == {batch["collection_id"],
                                                       second_collection["id"]}
    assert {b["id"]: b["status"] for b in found["batches"]} == {
        batch["id"]: "released", in_culture["id"]: "registered"}
    by_code = {d["code"]: d for d in found["doses"]}
    assert set(by_code) == {d["code"] for d in doses}
    moved = by_code[first["code"]]
    assert (moved["status"], moved["location"], moved["holder"]) == ("shipped", "Courier",
                                                                     "C. Courier")
    assert moved["recipient"] == {"id": batch["recipient_id"], "code": batch["recipient_code"]}

    one = rlab.get(f"/collections/{second_collection['id']}/lookback")
    assert [b["id"] for b in one["batches"]] == [in_culture["id"]] and one["doses"] == []
    result = rlab.results(batch)["viability"]
    from_result = rlab.get(f"/qc-results/{result['id']}/lookback")
    assert [b["id"] for b in from_result["batches"]] == [batch["id"]]
    assert len(from_result["doses"]) == len(doses)
    for path in ("/subjects/999999/lookback", "/collections/999999/lookback",
                 "/qc-results/999999/lookback"):
        assert rlab.client.get(f"/api/v1{path}", headers=rlab.tech).status_code == 404


def test_a_reactive_donor_result_opens_a_lookback_alert_on_each_released_batch(rlab):
    donor = rlab.donor("eligible")
    released, _ = rlab.released(origin="allogeneic", donor=donor)
    other = rlab.collection(donor, "apheresis")
    not_released = rlab.batch("MSC", origin="allogeneic", donor=donor, collection=other)
    markers = {**NEGATIVE, "hcv_nat": "reactive"}
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()), "markers": markers}, status=200)

    lookback = rlab.alerts(released, "lookback")
    assert len(lookback) == 1 and "hcv_nat" in lookback[0]["summary"]
    assert lookback[0]["closing"] == "investigation"
    assert rlab.alerts(not_released, "lookback") == []
    assert rlab.get(f"/batches/{released['id']}")["status"] == "release_suspended"
    assert rlab.alerts(released, "post_release_failure")
    assert rlab.get(f"/batches/{released['id']}/deviations?open=true")
