"""Accounts in a real browser (SPEC §8): an admin creates an account with a one-time
password; at the first login the user must choose their own before anything else."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ONE_TIME = "given-by-admin-1"
OWN = "my-own-passphrase-7"


def test_a_one_time_password_is_changed_at_the_first_login(bench, live_server):
    page = bench.page
    bench.login_as("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.fill("#username", "newtech")
    page.fill("#full_name", "Nora Newtech")
    page.select_option("#role", "technician")
    page.fill("#password", ONE_TIME)
    page.fill("#reason", "new starter, training record TR-7")
    bench._submit(page.get_by_role("button", name="Create"))
    assert bench.last_status == 302, bench.flashes()
    expect(page.locator("tr[data-username=newtech]")).to_contain_text("one-time")
    bench.logout()

    # First login with the one-time password: straight to the change page.
    page.goto("/login")
    expect(page.locator("#username")).to_be_focused()  # the page's script puts it there
    page.keyboard.type("newtech")
    page.fill("#password", ONE_TIME)
    bench._submit(page.get_by_role("button", name="Log in"))
    expect(page).to_have_url(f"{live_server.url}/account/password")
    expect(page.locator("#change-required")).to_be_visible()
    expect(page.locator("#current_password")).to_be_focused()

    # Nothing else first: the dashboard leads back here.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{live_server.url}/account/password")

    # A password that breaks the policy: refused, the rule shown next to the field.
    page.fill("#current_password", ONE_TIME)
    page.fill("#new_password", "password1234")
    page.fill("#confirm", "password1234")
    bench._submit(page.get_by_role("button", name="Change password"))
    assert bench.last_status == 400
    expect(page.locator("#new_password ~ .field-error").first).to_contain_text(
        "common or breached")

    page.fill("#current_password", ONE_TIME)
    page.fill("#new_password", OWN)
    page.fill("#confirm", OWN)
    bench._submit(page.get_by_role("button", name="Change password"))
    assert bench.last_status == 302
    expect(page.locator(".flash-success")).to_contain_text("Your password is changed")
    expect(page.locator("[data-scan-box]")).to_be_focused()
    bench.logout()

    # From now on the user's own password opens the dashboard directly.
    bench.login("newtech", OWN)
    expect(page).to_have_url(f"{live_server.url}/")
