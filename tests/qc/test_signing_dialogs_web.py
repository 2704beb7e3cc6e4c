"""The signing dialogs of the web pages (SPEC §8): each offers only its act's meanings,
asks for the user id at the session's first signing and the password alone after it, and
shows a refused signature next to its field, with the attempts left before the lock."""

from __future__ import annotations

import re

from tests.fixtures.records import KEPT_WRONG_PASSWORD
from tests.fixtures.users import TEST_PASSWORD
from tests.release.web import post_form


def options(html: str, select_id: str) -> list[str]:
    """The values a <select> offers."""
    match = re.search(rf'<select id="{re.escape(select_id)}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select #{select_id}"
    return re.findall(r'<option value="([^"]*)"', match.group(1))


def _page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_every_dialog_offers_only_its_acts_meanings(qlab, client, login_as):
    ready = qlab.ready()
    deviation = qlab.post(f"/batches/{ready['id']}/deviations",
                          {"description": "incubator door left open"}).json
    donor = qlab.donor(status="screened")  # all negative, not yet signed eligible
    login_as("qa")

    review = _page(client, f"/qc/batches/{ready['id']}/review")
    assert options(review, "meaning") == ["approval"]
    assert options(review, "reject-meaning") == ["rejection"]
    assert options(review, "ex-meaning") == ["approval", "responsibility"]
    closing = _page(client, f"/qc/deviations/{deviation['id']}")
    assert options(closing, "meaning") == ["review", "approval", "responsibility"]
    subject = _page(client, f"/subjects/{donor['id']}")
    assert options(subject, "sig-meaning") == ["approval"]
    # The session has not signed yet: every dialog asks for the user id.
    for html, prefixes in ((review, ("", "reject-", "ex-")), (closing, ("",)),
                           (subject, ("sig-",))):
        for prefix in prefixes:
            assert f'id="{prefix}username" name="username"' in html, prefix


def test_a_refused_signature_is_shown_in_its_dialog(app, qlab, client, login_as,
                                                    nothing_written):
    ready = qlab.ready()
    other = qlab.in_review()
    deviation = qlab.post(f"/batches/{other['id']}/deviations",
                          {"description": "label printer jammed"}).json
    name = login_as("qa")
    review = f"/qc/batches/{ready['id']}/review"
    release = f"/qc/batches/{ready['id']}/release"
    limit = app.config["MAX_FAILED_LOGINS"]

    with nothing_written(audited=KEPT_WRONG_PASSWORD):
        wrong = post_form(client, release, {"password": "not-my-password", "meaning": "approval"},
                          page=review)
    assert wrong.status_code == 401
    html = wrong.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="password-error"[^>]*>([^<]*)</p>', html)
    assert error and f"{limit - 1} attempts left" in error.group(1), html
    assert 'aria-describedby="password-error"' in html
    assert f'value="{name}"' in html, "the user id typed is kept"
    assert 'id="reject-password-error"' not in html, "only the posted dialog shows it"

    with nothing_written():
        blank = post_form(client, release, {"password": TEST_PASSWORD, "meaning": "approval",
                                            "username": ""}, page=review)
    assert blank.status_code == 400
    assert 'id="username-error"' in blank.get_data(as_text=True)

    signed = post_form(client, release, {"password": TEST_PASSWORD, "meaning": "approval"},
                       page=review)
    assert signed.status_code == 302, signed.get_data(as_text=True)
    # Later signatures of the session: the password alone.
    closing = _page(client, f"/qc/deviations/{deviation['id']}")
    assert 'name="username"' not in closing and "Re-enter your password" in closing
    closed = post_form(client, f"/qc/deviations/{deviation['id']}/close",
                       {"disposition": "no impact", "password": TEST_PASSWORD,
                        "meaning": "review", "username": ""},
                       page=f"/qc/deviations/{deviation['id']}")
    assert closed.status_code == 302
