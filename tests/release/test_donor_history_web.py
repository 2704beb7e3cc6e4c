"""SPEC §2 donor results as a history, on the subject page: every screening (paged), a
correction form (reason, the markers that change) and a "verify" button for a second
person; the corrector's own verification is refused on the page, nothing written."""

from __future__ import annotations

from datetime import timedelta

from batches.models import DonorMarkerCorrection, DonorScreening
from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.release import count
from tests.release.web import post_form, text


def _reactive_donor(rlab) -> dict:
    donor = rlab.donor(None)
    rlab.post(f"/subjects/{donor['id']}/donor-screening",
              {"specimen_collected_at": iso(now() - timedelta(days=1)),
               "markers": {**NEGATIVE, "hcv_nat": "reactive"}}, status=200)
    return donor


def test_a_correction_is_entered_then_verified_by_a_second_person(app, client, login_as, rlab,
                                                                  nothing_written):
    donor = _reactive_donor(rlab)
    [screening] = rlab.get(f"/subjects/{donor['id']}/donor-screenings")
    corrector = login_as("technician")
    page = client.get(f"/subjects/{donor['id']}")
    shown = text(page)
    assert "Donor results history" in shown and f"Screening #{screening['id']}" in shown
    assert f'id="correct-screening-{screening["id"]}"' in page.get_data(as_text=True)

    path = f"/donor-screenings/{screening['id']}/corrections"
    with nothing_written():
        no_reason = post_form(client, path, {"markers.hcv_nat": "negative",
                                             "for_screening": screening["id"]})
    assert no_reason.status_code == 400 and "reason" in text(no_reason)
    with nothing_written():
        nothing = post_form(client, path, {"reason": "lab re-test", "markers.hcv_nat": ""})
    assert nothing.status_code == 400 and "name at least one marker" in text(nothing)
    done = post_form(client, path, {"reason": "Lab reported the wrong specimen: re-test "
                                              "negative", "markers.hcv_nat": "negative"})
    assert done.status_code == 302 and done.headers["Location"].endswith("#donor-history")
    [correction] = rlab.get(f"/subjects/{donor['id']}/donor-screenings")[0]["corrections"]
    assert correction["status"] == "pending" and correction["corrected_by"] == corrector

    page = client.get(f"/subjects/{donor['id']}")
    shown = text(page)
    assert "hcv nat: reactive → negative" in shown and "awaits" not in shown
    assert "You entered this correction: a second person verifies it" in shown
    assert f'id="correct-screening-{screening["id"]}"' not in page.get_data(as_text=True), \
        "one correction at a time"
    verify = f"/donor-marker-corrections/{correction['id']}/verify"
    with nothing_written():
        own = post_form(client, verify, {})
    assert own.status_code == 409
    assert "whoever entered the correction cannot verify it" in text(own)
    assert rlab.get(f"/subjects/{donor['id']}")["donor_status"] == "ineligible"

    login_as("admin")
    with nothing_written():
        assert post_form(client, verify, {}).status_code == 403
        assert post_form(client, path, {"reason": "x", "markers.cmv": "reactive"}
                         ).status_code == 403

    login_as("qa")
    assert post_form(client, verify, {}).status_code == 302
    history = rlab.get(f"/subjects/{donor['id']}/donor-screenings")
    assert history[0]["markers"]["hcv_nat"] == "negative"
    assert history[0]["corrections"][0]["status"] == "verified"
    shown = text(client.get(f"/subjects/{donor['id']}"))
    assert "verified" in shown
    with nothing_written():
        assert post_form(client, verify, {}).status_code == 409
    assert count(app, DonorMarkerCorrection) == 1


def test_the_history_is_paged_oldest_first(client, login_as, rlab):
    donor = rlab.donor(None)
    for day in range(21):
        rlab.post(f"/subjects/{donor['id']}/donor-screening",
                  {"specimen_collected_at": iso(now() - timedelta(days=60 - day)),
                   "markers": NEGATIVE}, status=200)
    login_as("technician")
    first = client.get(f"/subjects/{donor['id']}")
    html = first.get_data(as_text=True)
    assert html.count('class="history-entry"') == 20
    assert 'rel="next"' in html
    ids = rlab.get(f"/subjects/{donor['id']}/donor-screenings?limit=500")
    assert len(ids) == 21 and count(client.application, DonorScreening) >= 21
    second = client.get(f"/subjects/{donor['id']}?after={ids[19]['id']}")
    html = second.get_data(as_text=True)
    assert html.count('class="history-entry"') == 1 and f"Screening #{ids[20]['id']}" in html
    assert 'rel="next"' not in html and "First page" in html


def test_a_patient_has_no_donor_history(client, login_as, rlab):
    patient = rlab.patient()
    login_as("technician")
    page = client.get(f"/subjects/{patient['id']}").get_data(as_text=True)
    assert 'id="donor-history"' not in page and "/lookback" in page
