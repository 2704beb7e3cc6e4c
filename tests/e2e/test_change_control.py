"""Change control in a real browser (issue 12): an admin proposes a weaker release
specification; the QA officer's approval screen flags every weakening item before the
signature dialog, and the old version stays in force until that signature."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.fixtures.users import TEST_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_weakening_change_is_flagged_and_signed_by_another_qa_officer(bench):
    page = bench.page
    bench.login_as("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Specifications").click()
    msc = page.locator("[data-spec=MSC-release]")
    expect(msc.locator("h2")).to_contain_text("v1")
    msc.get_by_role("link", name="Propose a new version").click()
    # drop sterility (row 1) and loosen viability (row 4)
    page.get_by_label("test (row 1)", exact=True).fill("")
    page.get_by_label("limit value (row 4)", exact=True).fill("2")
    page.fill("#reason", "simplified panel")
    bench._submit(page.get_by_role("button", name="Propose version 2"))
    assert bench.last_status == 302, bench.flashes()
    expect(page.locator("[data-weakening]")).to_contain_text("This change weakens control")
    expect(page.locator("[data-weakening]")).to_contain_text("sterility")
    expect(page.locator("#approve-form")).to_have_count(0)
    change_url = page.url
    bench.logout()

    bench.login_as("qa")
    panel = page.locator("#changes-panel")
    expect(panel).to_contain_text("simplified panel")
    panel.get_by_role("link").first.click()
    assert page.url == change_url
    expect(page.locator("[data-weakening]")).to_contain_text("viability — limit loosened")
    rows = page.locator("tr[data-effect=weakens]")
    expect(rows).to_have_count(2)
    dialog = page.locator("#approve-form")
    expect(dialog.locator("select[name=meaning] option")).to_have_count(1)
    bench.sign_in(dialog, "not-my-password")
    bench._submit(dialog.get_by_role("button", name="Sign approval"))
    bench.expect_refused(401, "Wrong password")
    if os.environ.get("LIMS_E2E_SCREENSHOTS"):
        page.screenshot(path=os.environ["LIMS_E2E_SCREENSHOTS"] + "/change.png", full_page=True)
    bench.sign_in(page.locator("#approve-form"), TEST_PASSWORD)
    bench._submit(page.locator("#approve-form").get_by_role("button", name="Sign approval"))
    assert bench.last_status == 302, bench.flashes()
    expect(page.locator(".flash-success")).to_contain_text("version 2 is in force")
    expect(page.locator(".signature")).to_contain_text("approval")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Specifications").click()
    expect(page.locator("[data-spec=MSC-release] h2")).to_contain_text("v2")
    expect(page.locator("[data-spec=MSC-release]")).to_contain_text("Earlier versions (1, kept)")
