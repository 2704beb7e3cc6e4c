"""21 CFR 1271.85(b)(2), SPEC §2: a reactive CMV result does not make the donor ineligible.

It is recorded, shown at eligibility signing (the subject page, the API's screening) and
printed on the dose label ("CMV: reactive", tests/labels/test_cmv_label.py). Every other
reactive marker still makes the donor ineligible; a pending CMV still means incomplete.
Which markers behave like CMV is data: ``batches.models.REACTIVE_NOT_DISQUALIFYING``.

Issue 13: "A CMV-reactive donor is made ineligible and can never be used."
"""

from __future__ import annotations

import pytest

from batches.models import (
    MARKERS,
    REACTIVE_NOT_DISQUALIFYING,
    DonorScreening,
    disqualifying_markers,
    labelled_reactive_markers,
)
from batches.screening import donor_status_of, eligibility_refusals
from batches.states import DonorStatus
from tests.fixtures.lab import NEGATIVE, ago
from tests.fixtures.records import audit_entries, count_rows
from tests.fixtures.users import TEST_PASSWORD
from tests.release.web import text

CMV_REACTIVE = {**NEGATIVE, "cmv": "reactive"}
SIGN = {"password": TEST_PASSWORD, "meaning": "approval"}


# -- the rule, as pure functions ----------------------------------------------------------


def test_1271_85_b_2_cmv_is_the_marker_recorded_and_labelled_not_disqualifying():
    """21 CFR 1271.85(b)(2): CMV, and only CMV, is reactive without disqualifying."""
    assert REACTIVE_NOT_DISQUALIFYING == {"cmv"}
    assert REACTIVE_NOT_DISQUALIFYING <= set(MARKERS)


def test_1271_85_b_2_cmv_reactive_alone_leaves_the_donor_to_be_signed_eligible():
    """21 CFR 1271.85(b)(2): CMV reactive, every other marker negative → incomplete (not
    ineligible), and nothing in the markers refuses the eligibility signature."""
    assert donor_status_of(CMV_REACTIVE) == DonorStatus.incomplete
    assert eligibility_refusals(CMV_REACTIVE) == []
    assert disqualifying_markers(CMV_REACTIVE) == []
    assert labelled_reactive_markers(CMV_REACTIVE) == ["cmv"]


@pytest.mark.parametrize("marker", [m for m in MARKERS if m != "cmv"])
def test_1271_85_b_2_every_other_reactive_marker_still_disqualifies(marker):
    """21 CFR 1271.85(b)(2) is about CMV only: any other reactive marker → ineligible,
    whatever CMV says."""
    for cmv in ("negative", "reactive", "pending"):
        markers = {**NEGATIVE, "cmv": cmv, marker: "reactive"}
        assert donor_status_of(markers) == DonorStatus.ineligible
        assert disqualifying_markers(markers) == [marker]
        assert f"marker {marker} is reactive" in eligibility_refusals(markers)
        assert "marker cmv is reactive" not in eligibility_refusals(markers)


def test_1271_85_b_2_a_pending_cmv_is_still_incomplete():
    """21 CFR 1271.85(b)(2) lets a *reactive* CMV through, not a missing one."""
    markers = {**NEGATIVE, "cmv": "pending"}
    assert donor_status_of(markers) == DonorStatus.incomplete
    assert eligibility_refusals(markers) == ["marker cmv is still pending"]
    assert labelled_reactive_markers(markers) == []


def test_all_negative_is_unchanged():
    assert donor_status_of(NEGATIVE) == DonorStatus.incomplete
    assert eligibility_refusals(NEGATIVE) == []
    assert labelled_reactive_markers(NEGATIVE) == disqualifying_markers(NEGATIVE) == []


# -- through the API ----------------------------------------------------------------------


def test_1271_85_b_2_qa_signs_a_cmv_reactive_donor_eligible(app, lab):
    """21 CFR 1271.85(b)(2): CMV reactive + every other marker negative → QA signs eligible
    (200); the screening shows the CMV result (v1 fields kept, two added); audited."""
    donor = lab.donor(None)
    body = lab.post(f"/subjects/{donor['id']}/donor-screening",
                    {"specimen_collected_at": ago(days=1), "markers": CMV_REACTIVE},
                    status=200).json
    assert body["donor_status"] == "incomplete"
    screening = body["donor_screening"]
    assert screening["markers"]["cmv"] == "reactive"
    assert screening["reactive_markers"] == ["cmv"]  # v1: every reactive marker, as before
    assert screening["disqualifying_markers"] == []
    assert screening["labelled_reactive_markers"] == ["cmv"]

    signed = lab.post(f"/subjects/{donor['id']}/donor-eligibility", SIGN, headers=lab.qa,
                      status=200).json
    assert signed["donor_status"] == "eligible"
    assert signed["donor_screening"]["status"] == "eligible"
    assert signed["donor_screening"]["labelled_reactive_markers"] == ["cmv"]
    assert signed["donor_screening"]["eligibility_signature"]["meaning"] == "approval"
    changes = audit_entries(app, "donor_screening", screening["id"])[-1]["changes"]
    assert changes["status"] == ["incomplete", "eligible"]
    assert lab.client.get(f"/api/v1/subjects/{donor['id']}",
                          headers=lab.tech).json["donor_status"] == "eligible"


def test_1271_85_b_2_hcv_reactive_is_still_ineligible_and_refused(app, lab):
    """Refusal: HCV reactive (with CMV reactive too) → ineligible; QA's signature is refused
    (409) for HCV alone, and nothing is written."""
    donor = lab.donor(None)
    body = lab.post(f"/subjects/{donor['id']}/donor-screening",
                    {"specimen_collected_at": ago(days=1),
                     "markers": {**CMV_REACTIVE, "hcv_antibody": "reactive"}}, status=200).json
    assert body["donor_status"] == "ineligible"
    assert body["donor_screening"]["disqualifying_markers"] == ["hcv_antibody"]
    assert body["donor_screening"]["labelled_reactive_markers"] == ["cmv"]
    refused = lab.post(f"/subjects/{donor['id']}/donor-eligibility", SIGN, headers=lab.qa,
                       status=409).json  # lab.post asserts nothing was written
    assert refused["details"]["reasons"] == ["marker hcv_antibody is reactive"]
    subject = lab.client.get(f"/api/v1/subjects/{donor['id']}", headers=lab.tech).json
    assert subject["donor_status"] == "ineligible"
    assert count_rows(app, DonorScreening) == 1


def test_1271_85_b_2_a_pending_cmv_refuses_the_signature(lab):
    donor = lab.donor("incomplete")
    refused = lab.post(f"/subjects/{donor['id']}/donor-eligibility", SIGN, headers=lab.qa,
                       status=409).json
    assert refused["details"]["reasons"] == ["marker cmv is still pending"]


def test_1271_85_b_2_a_cmv_reactive_donors_batch_is_registered_and_not_quarantined(lab):
    """Registration refuses ineligible donors only; quarantine lifts once QA signed eligible."""
    donor = lab.donor("eligible", markers={"cmv": "reactive"})
    batch = lab.batch("NK", origin="allogeneic", donor=donor)
    assert batch["quarantined"] is False and batch["quarantine_reasons"] == []

    ineligible = lab.donor("ineligible", markers={"cmv": "reactive"})
    collection = lab.collection(ineligible, "apheresis")
    refused = lab.post("/batches", {"collection_id": collection["id"], "product": "NK",
                                    "origin": "allogeneic",
                                    "recipient_id": lab.patient()["id"]}, status=409).json
    assert f"the donor {ineligible['code']} is ineligible" in refused["details"]["reasons"]


def test_1271_85_b_2_the_signing_page_shows_the_cmv_result(client, lab, login_as):
    """SPEC §2: the reactive CMV is shown at eligibility signing, on the subject page."""
    donor = lab.donor("screened", markers={"cmv": "reactive"})
    login_as("qa")
    page = client.get(f"/subjects/{donor['id']}")
    html, shown = page.get_data(as_text=True), text(page)
    assert page.status_code == 200
    assert 'id="signing-recorded-reactive"' in html and "Sign donor eligibility" in shown
    assert "This specimen is CMV: reactive — not disqualifying" in shown
    assert 'data-recorded-reactive="cmv"' in html
    assert "does not make the donor ineligible (21 CFR 1271.85(b)(2))" in shown

    negative = lab.donor("screened")
    assert "CMV: reactive" not in text(client.get(f"/subjects/{negative['id']}"))
