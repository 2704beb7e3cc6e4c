"""21 CFR 1271.85(b)(2) after release (SPEC §2, §3b): a donor's CMV turning reactive is a
screening change — the release is suspended until QA signs the eligibility again and
re-releases — never a disqualifying result: no post-release failure, no deviation, no
look-back alert. Any other reactive marker still is one (tests/release/test_suspension_api.py,
test_lookback_api.py)."""

from __future__ import annotations

from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.users import TEST_PASSWORD
from tests.labels.test_labels_api import QUARANTINE, _label_text
from tests.release.test_exceptional_follow_up_api import _urgent

CMV_REACTIVE = {**NEGATIVE, "cmv": "reactive"}
SIGN = {"password": TEST_PASSWORD, "meaning": "approval"}


def _kinds(rlab, batch: dict) -> set[str]:
    return {a["kind"] for a in rlab.alerts(batch)}


def test_1271_85_b_2_cmv_reactive_after_release_suspends_as_a_change_not_a_failure(rlab):
    donor = rlab.donor("eligible")
    batch, doses = rlab.released(origin="allogeneic", donor=donor)
    screened = rlab.post(f"/subjects/{donor['id']}/donor-screening",
                         {"specimen_collected_at": iso(now()), "markers": CMV_REACTIVE},
                         status=200).json
    assert screened["donor_status"] == "incomplete"
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    assert _kinds(rlab, batch) == {"release_suspended"}
    assert rlab.get(f"/batches/{batch['id']}/deviations?open=true") == []
    [alert] = rlab.alerts(batch, "release_suspended")
    assert "reactive, not disqualifying: cmv" in alert["summary"], alert

    # QA signs the donor eligible on the CMV-reactive specimen, then re-releases
    assert rlab.post(f"/subjects/{donor['id']}/donor-eligibility", SIGN, headers=rlab.qa,
                     status=200).json["donor_status"] == "eligible"
    rlab.close_alert(alert)
    again = rlab.release(batch).json
    assert again["status"] == "released", again
    _dose, text = _label_text(rlab, doses[0]["id"])
    assert "CMV: reactive" in text and QUARANTINE not in text


def test_1271_85_b_2_a_verified_correction_to_cmv_reactive_is_no_failure(rlab, api_headers):
    donor = rlab.donor("eligible")
    batch, _ = rlab.released(origin="allogeneic", donor=donor)
    screening = rlab.get(f"/subjects/{donor['id']}/donor-screenings")[-1]
    correction = rlab.post(f"/donor-screenings/{screening['id']}/corrections",
                           {"markers": {"cmv": "reactive"},
                            "reason": "CMV result transcribed wrongly"}).json
    rlab.post(f"/donor-marker-corrections/{correction['id']}/verify", None,
              headers=api_headers("technician"), status=200)
    assert rlab.get(f"/subjects/{donor['id']}")["donor_status"] == "incomplete"
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "release_suspended"
    assert _kinds(rlab, batch) == {"release_suspended"}


def test_1271_85_b_2_a_pending_cmv_arriving_reactive_is_an_expected_follow_up(
        rlab, api_headers):
    """An urgent release waiting for the donor's CMV: a reactive CMV is the expected
    follow-up (recorded for the physician, not failed), the release stands."""
    batch, donor = _urgent(rlab, api_headers)
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now()), "markers": CMV_REACTIVE}, status=200)
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "released"
    assert not _kinds(rlab, batch) & {"post_release_failure", "lookback", "release_suspended"}
    [follow_up] = rlab.get(f"/batches/{batch['id']}/release")["exceptional_release"][
        "follow_ups"]
    assert follow_up["item"] == "donor_screening" and follow_up["failed"] is False
    assert "reactive, not disqualifying: cmv" in follow_up["outcome"]
    rlab.post(f"/subjects/{donor['id']}/donor-eligibility", SIGN, headers=api_headers("qa"),
              status=200)
    assert rlab.get(f"/batches/{batch['id']}")["status"] == "released"
