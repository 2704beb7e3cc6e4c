"""QA pages: release queue, review by exception, signing dialog, deviations."""

from __future__ import annotations

from tests.fixtures.records import KEPT_WRONG_PASSWORD
from tests.fixtures.users import TEST_PASSWORD, csrf_token, web_login


def _login(client, make_user, role):
    _id, name = make_user(role)
    assert web_login(client, name).status_code == 302
    return name


def test_qa_signs_release_in_the_browser(qlab, client, make_user, nothing_written):
    batch = qlab.ready()
    qlab.result(batch, "viability", value=60.0, unit="%")  # out of spec → deviation
    _login(client, make_user, "qa")
    queue = client.get("/qc/release-queue")
    assert queue.status_code == 200 and batch["batch_number"] in queue.get_data(as_text=True)
    dashboard = client.get("/").get_data(as_text=True)
    assert "release-panel" in dashboard and "Release queue" in dashboard
    page = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    exceptions = page[page.index('id="exceptions"'):page.index('id="qc-results"')]
    assert "out of spec" in exceptions and "deviation" in exceptions
    assert "You sign:" in page and 'name="username"' in page, "user id at the first signing"
    token = csrf_token(client, f"/qc/batches/{batch['id']}/review")
    with nothing_written():
        refused = client.post(f"/qc/batches/{batch['id']}/release",
                              data={"csrf_token": token, "password": TEST_PASSWORD,
                                    "meaning": "approval"})
    assert refused.status_code == 409
    assert "viability failed its specification" in refused.get_data(as_text=True)
    deviation_id = client.get(f"/api/v1/batches/{batch['id']}/deviations",
                              headers=qlab.tech).json[0]["id"]
    closed = client.post(f"/qc/deviations/{deviation_id}/close",
                         data={"csrf_token": token, "password": TEST_PASSWORD,
                               "meaning": "approval", "disposition": "re-test valid"})
    assert closed.status_code == 302
    results = client.get(f"/api/v1/batches/{batch['id']}/qc-results", headers=qlab.tech).json
    latest = [r for r in results if r["test"] == "viability"][-1]
    qlab.post(f"/qc-results/{latest['id']}/correct", {"value": 90.0, "reason": "typo"},
              status=200)
    qlab.review(latest, headers=qlab.qa)
    with nothing_written(audited=KEPT_WRONG_PASSWORD):
        wrong = client.post(f"/qc/batches/{batch['id']}/release",
                            data={"csrf_token": token, "password": "wrong-password",
                                  "meaning": "approval"})
    assert wrong.status_code == 401
    signed = client.post(f"/qc/batches/{batch['id']}/release",
                         data={"csrf_token": token, "password": TEST_PASSWORD,
                               "meaning": "approval"})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    page = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    assert "approval" in page and "valid" in page


def test_technician_enters_and_reviews_results_but_cannot_sign(qlab, client, make_user,
                                                               nothing_written):
    batch = qlab.in_review()
    other = qlab.result(batch, "endotoxin")
    _login(client, make_user, "technician")
    assert client.get("/qc/release-queue").status_code == 403
    token = csrf_token(client, f"/qc/batches/{batch['id']}/review")
    entered = client.post(f"/qc/batches/{batch['id']}/qc-results",
                          data={"csrf_token": token, "test": "viability", "value": "88.5",
                                "unit": "%", "method": "trypan blue"})
    assert entered.status_code == 302
    with nothing_written():
        mismatch = client.post(f"/qc/batches/{batch['id']}/qc-results",
                               data={"csrf_token": token, "test": "endotoxin", "value": "0.1",
                                     "unit": "EU/ml"})
    assert mismatch.status_code == 400 and "unit mismatch" in mismatch.get_data(as_text=True)
    assert client.post(f"/qc/qc-results/{other['id']}/review",
                       data={"csrf_token": token}).status_code == 302
    with nothing_written():
        assert client.post(f"/qc/batches/{batch['id']}/release",
                           data={"csrf_token": token, "password": TEST_PASSWORD,
                                 "meaning": "approval"}).status_code == 403
    page = client.get(f"/qc/batches/{batch['id']}/review").get_data(as_text=True)
    assert "Sign release" not in page and "88.5 %" in page


def test_deviation_pages(qlab, client, make_user, nothing_written):
    batch = qlab.in_review()
    _login(client, make_user, "technician")
    token = csrf_token(client, "/qc/deviations")
    opened = client.post(f"/qc/batches/{batch['id']}/deviations",
                         data={"csrf_token": token, "description": "freezer alarm"})
    assert opened.status_code == 302
    listing = client.get("/qc/deviations").get_data(as_text=True)
    assert "freezer alarm" in listing
    page_url = opened.headers["Location"]
    saved = client.post(page_url + "/investigation",
                        data={"csrf_token": token, "investigation": "alarm was a test"})
    assert saved.status_code == 302
    assert "alarm was a test" in client.get(page_url).get_data(as_text=True)
    with nothing_written():
        assert client.post(page_url + "/close", data={
            "csrf_token": token, "disposition": "x", "password": TEST_PASSWORD}).status_code == 403
