"""SPEC §3b look-back pages: from a donor, a collection and a QC result, every collection,
batch and dose derived, with status, location (and holder) and recipient; reached from the
subject, collection, batch and review pages."""

from __future__ import annotations

from tests.release.web import text


def test_lookback_from_a_donor_a_collection_and_a_qc_result(client, login_as, rlab):
    donor = rlab.donor("eligible")
    collection = rlab.collection(donor, "apheresis")
    batch = rlab.harvested("NK", origin="allogeneic", collection=collection)
    rlab.post(f"/batches/{batch['id']}/doses",
              {"count": 2, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
    rlab.all_results(batch, "NK")
    rlab.release(batch)
    batch = rlab.get(f"/batches/{batch['id']}")
    first, second = (rlab.dose(d) for d in rlab.doses(batch))
    rlab.custody(first, "retrieved")
    rlab.custody(first, "shipped", location="Courier 7", to_person="Courier Kim")
    recipient = rlab.get(f"/subjects/{batch['recipient_id']}")

    login_as("technician")
    subject_page = client.get(f"/subjects/{donor['id']}").get_data(as_text=True)
    assert f'href="/subjects/{donor["id"]}/lookback"' in subject_page
    page = client.get(f"/subjects/{donor['id']}/lookback")
    shown = text(page)
    assert page.status_code == 200 and f"Look-back from donor {donor['code']}" in shown
    for expected in (collection["din"], batch["batch_number"], first["code"], second["code"],
                     "Courier 7", "Courier Kim", recipient["code"], "shipped"):
        assert expected in shown, expected

    collection_page = client.get(f"/collections/{collection['id']}").get_data(as_text=True)
    assert f'href="/collections/{collection["id"]}/lookback"' in collection_page
    assert f'href="/collections/{collection["id"]}/lookback"' in client.get(
        f"/batches/{batch['id']}").get_data(as_text=True)
    by_collection = text(client.get(f"/collections/{collection['id']}/lookback"))
    assert f"collection {collection['din']}" in by_collection and second["code"] in by_collection

    sterility = rlab.results(batch)["sterility"]
    review = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    assert f'href="/qc/qc-results/{sterility["id"]}/lookback"' in review
    by_result = client.get(f"/qc/qc-results/{sterility['id']}/lookback")
    assert by_result.status_code == 200
    shown = text(by_result)
    assert f"sterility result #{sterility['id']}" in shown and first["code"] in shown
    assert "Courier 7" in shown

    assert client.get("/subjects/99999/lookback").status_code == 404
    assert client.get("/collections/99999/lookback").status_code == 404
    assert client.get("/qc/qc-results/99999/lookback").status_code == 404
