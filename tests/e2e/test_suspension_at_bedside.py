"""Issue 11 in a real browser (SPEC §3b): a release stays true, or stops the product.

A released NK dose waits on the ward. A technician corrects its batch's sterility result to
positive after release: the batch page shows the suspension plainly, with the cause and who
caused it; at the bedside the dose label scan says DO NOT ADMINISTER with the reason (409)
and nothing is administered. A QA officer (not the one who caused it) sees the post-release
failure as the most urgent alert, closes it with an investigation, finds the way to
re-release (the review page) and recalls the batch with a reason and a signature; the dose
page then shows the recall, and the dose is disposed of by scanning its label.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.fixtures.users import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _released_dose_on_the_ward(rlab) -> tuple[dict, dict]:
    """Through the API: a released NK batch, its first dose received at Ward 3."""
    batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.custody(dose, "shipped", location="Courier van 7")
    rlab.custody(dose, "received", location="Ward 3", to_person="Nurse Ward")
    return batch, rlab.dose(dose)


def test_a_result_corrected_after_release_stops_the_dose_at_the_bedside(bench, rlab,
                                                                       make_user):
    page = bench.page
    batch, dose = _released_dose_on_the_ward(rlab)
    matrix = dose["barcodes"]["matrix"]

    # A technician finds the sterility plate misread and corrects the result after release.
    causer = bench.login_as("technician", username="tech-dana")
    bench.open_qc_review(batch["batch_number"])
    bench.correct_qc_outcome("sterility", "positive", "plate re-read: growth at day 5")

    # The batch page says so plainly: what changed, who, when.
    bench.scan_to_batch(batch["batch_number"])
    assert bench.batch_status() == "release_suspended"
    banner = bench.suspension_banner()
    assert "RELEASE SUSPENDED — DO NOT SHIP OR ADMINISTER" in banner, banner
    assert any("sterility corrected to positive" in line and causer in line
               for line in banner), banner

    # At the bedside the scan of the dose label refuses it at once, with the reason.
    before = rlab.get(f"/doses/{dose['id']}/custody")
    assert not bench.bedside_scan(matrix)
    assert bench.last_status == 409
    shown = bench.do_not_administer()
    assert "DO NOT ADMINISTER" in shown, shown
    assert any("release suspended" in line for line in shown), shown
    assert rlab.get(f"/doses/{dose['id']}/custody") == before, "nothing administered"
    assert rlab.dose(dose)["status"] == "delivered"
    # The next scan goes straight into the cleared field: still refused.
    page.keyboard.type(matrix)
    with page.expect_response(lambda r: r.request.resource_type == "document") as again:
        page.keyboard.press("Enter")
    assert again.value.status == 409
    bench.logout()

    # QA: the post-release failure is the most urgent alert, in red, first.
    make_user("qa", username="qa-iris", full_name="QA Officer Iris")
    bench.login("qa-iris")
    rows = bench.alert_rows()
    assert rows and rows[0] == ("post_release_failure", "0"), rows
    first = page.locator("#alerts-panel table.alerts tbody tr").first
    expect(first).to_have_class("sev-0 alert-urgent")
    bench.close_alert("post_release_failure",
                      "Plate re-read confirmed growth; deviation opened; batch to be recalled.")
    assert ("post_release_failure", "0") not in bench.alert_rows()

    # Re-release is reachable from the banner (the review page); QA recalls instead.
    bench.scan_to_batch(batch["batch_number"])
    review = page.locator("#re-release-link")
    expect(review).to_have_attribute("href", f"/qc/batches/{batch['id']}/review")
    review.click()
    expect(page.locator("h1")).to_contain_text(f"Batch record review: {batch['batch_number']}")
    bench.scan_to_batch(batch["batch_number"])
    assert bench.recall_batch("Sterility positive after release (post-release failure)",
                              TEST_PASSWORD), (bench.last_status, bench.flashes())
    expect(page.locator("#missing")).to_contain_text(f"dose {dose['code']} has no disposition")

    # The dose page shows the recall (on the recall record a scan would go to its own
    # disposition field, so the dose is opened by its link).
    page.locator("#recall-doses").get_by_role("link", name=dose["code"]).click()
    expect(page.locator("h1")).to_contain_text(dose["code"])
    expect(page.locator("#recall-banner")).to_contain_text("BATCH RECALLED — DO NOT ADMINISTER")
    expect(page.locator("#recall-banner")).to_contain_text("not yet accounted for")

    # Disposed of on the ward, by scanning its label on the recall record.
    page.locator("#recall-banner").get_by_role("link", name="Recall record").click()
    assert bench.recall_disposition(matrix, "disposed", "destroyed on Ward 3 per recall"), \
        (bench.last_status, page.locator("#refusal").all_inner_texts())
    expect(page.locator(f"tr[data-dose-id='{dose['id']}'] td[data-disposition]")
           ).to_have_attribute("data-disposition", "disposed")
    assert rlab.dose(dose)["status"] == "disposed"  # never given
