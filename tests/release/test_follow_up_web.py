"""SPEC §3 exceptional release on the review page: the results it waited for, once arrived,
are listed with a form for the physician's notification (who, how, when; QA only)."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.lab import now
from tests.fixtures.users import TEST_PASSWORD
from tests.release.web import post_form, text

REQUEST = {"password": TEST_PASSWORD, "physician_name": "Dr. A. Urgent",
           "physician_request": "Patient in critical condition; no alternative therapy."}


def _urgent_with_sterility_arrived(rlab, api_headers, outcome: str = "negative"):
    donor = rlab.donor("eligible")
    batch = rlab.in_review("NK", origin="allogeneic", donor=donor)
    rlab.all_results(batch, "NK", skip=("sterility",))
    rlab.post(f"/batches/{batch['id']}/exceptional-release", REQUEST, headers=rlab.signer)
    rlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
              {"password": TEST_PASSWORD}, headers=api_headers("qa"), status=200)
    rlab.result(batch, "sterility", outcome=outcome)
    info = rlab.get(f"/batches/{batch['id']}/release")
    [follow_up] = info["exceptional_release"]["follow_ups"]
    return batch, follow_up


def test_qa_records_the_physicians_notification_of_an_arrived_result(
        client, login_as, rlab, api_headers, nothing_written):
    batch, follow_up = _urgent_with_sterility_arrived(rlab, api_headers)
    path = f"/qc/exceptional-release-follow-ups/{follow_up['id']}"

    login_as("technician")
    review = client.get(f"/qc/batches/{batch['id']}/review")
    shown = text(review)
    assert "Exceptional release: what it waited for" in shown and "not yet recorded" in shown
    assert 'class="follow-up-form"' not in review.get_data(as_text=True)
    with nothing_written():
        assert post_form(client, path, {"physician_name": "Dr. A. Urgent",
                                        "method": "phone"}).status_code == 403

    login_as("qa")
    review = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    assert 'class="follow-up-form"' in review
    with nothing_written():
        bad = post_form(client, path, {"physician_name": "Dr. A. Urgent", "method": "pigeon"})
    assert bad.status_code == 400 and "method" in text(bad)
    with nothing_written():
        nameless = post_form(client, path, {"method": "phone"})
    assert nameless.status_code == 400
    with nothing_written():
        too_early = post_form(client, path, {"physician_name": "Dr. A. Urgent",
                                             "method": "phone",
                                             "notified_at": (now() - timedelta(hours=2))
                                             .strftime("%Y-%m-%dT%H:%M")})
    assert too_early.status_code == 409 and "cannot precede the result" in text(too_early)
    done = post_form(client, path, {"physician_name": "Dr. A. Urgent", "method": "phone",
                                    "notes": "told at the ward round"})
    assert done.status_code == 302 and done.headers["Location"].endswith("#post-release")
    info = rlab.get(f"/batches/{batch['id']}/release")
    assert info["exceptional_release"]["follow_ups"][0]["physician_notified"]
    shown = text(client.get(path))
    assert "Dr. A. Urgent by phone" in shown
    with nothing_written():
        again = post_form(client, path, {"physician_name": "Dr. B", "method": "email"})
    assert again.status_code == 409 and "already notified" in text(again)


def test_a_failed_arrival_is_flagged(client, login_as, rlab, api_headers):
    batch, follow_up = _urgent_with_sterility_arrived(rlab, api_headers, outcome="positive")
    login_as("qa")
    shown = text(client.get(f"/qc/exceptional-release-follow-ups/{follow_up['id']}"))
    assert "failed: post-release failure" in shown
    assert "RELEASE SUSPENDED" in text(client.get(f"/batches/{batch['id']}"))
