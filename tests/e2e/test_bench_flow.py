"""The bench terminal in a real browser (SPEC §7): log in by role, register, scan, log
culture steps, formulate, and see refusals with their reasons."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_login_by_role_shows_the_role_and_its_navigation(bench):
    for role, visible, hidden in (("technician", "Batches", "Users"),
                                  ("qa", "Batches", "Users"),
                                  ("admin", "Users", None)):
        bench.login_as(role)
        expect(bench.page.locator(".who")).to_contain_text(role)
        nav = bench.page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name=visible)).to_be_visible()
        if hidden:
            expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
        bench.logout()


def test_wrong_password_is_refused_on_the_login_page(bench, make_user):
    _id, name = make_user("technician")
    bench.page.goto("/login")
    bench.page.fill("#username", name)
    bench.page.fill("#password", "not-the-password")
    bench.page.get_by_role("button", name="Log in").click()
    expect(bench.page.locator("#username")).to_be_visible()
    expect(bench.page.locator("[data-scan-box]")).to_have_count(0)


def test_technician_takes_a_batch_from_patient_to_doses_by_scanning(bench):
    page = bench.page
    bench.login_as("technician")

    bench.register_patient("PT-E2E-1", initials="JD", date_of_birth="1968-03-14")
    assert bench.screen_recipient() == "cleared"
    din = bench.register_collection("bone_marrow", volume_ml=42.5)

    batch = bench.register_batch(din, product="MSC", origin="autologous", recipient="PT-E2E-1")
    assert batch and batch.startswith("MSC-"), bench.flashes()
    assert bench.batch_status() == "registered"

    # From the dashboard, scanning the collection's DIN opens the collection…
    page.get_by_role("link", name="Dashboard").click()
    bench.scan_to_collection(din)
    expect(page.get_by_role("link", name=batch)).to_be_visible()
    # …and from there (and after every step) the batch number jumps to the batch.
    bench.scan_to_batch(batch)
    assert bench.log_step("seeding", cell_count=2_000_000, viability_pct=96)
    assert bench.batch_status() == "in_culture"

    bench.scan_to_batch(batch)
    assert bench.log_step("media_change", confluence_pct=60, media_lot="LOT-A1")

    page.get_by_role("link", name="Dashboard").click()
    bench.scan_to_batch(batch)
    assert bench.log_step("passage", cell_count=8_000_000, viability_pct=94, confluence_pct=85)

    bench.scan_to_batch(batch)
    assert bench.log_step("harvest", cell_count=120_000_000, viability_pct=93)
    assert bench.batch_status() == "harvested"
    timeline = bench.timeline()
    for expected in ("seeding done", "media change done", "passage p1 done", "harvest done"):
        assert any(row.lower().startswith(expected) for row in timeline), (expected, timeline)

    doses = bench.formulate(count=3, cells_per_dose=30_000_000, volume_ml=10)
    assert len(doses) == 3 and all(code.startswith(din) for code in doses), doses
    assert bench.batch_status() == "qc_review"

    # A dose label's code jumps to the dose.
    bench.scan(doses[0], lands=r"/doses/\d+$")
    expect(page.locator("body")).to_contain_text(doses[0])


def test_batch_for_a_contraindicated_recipient_is_refused_with_its_reasons(bench):
    bench.login_as("technician")
    bench.register_patient("PT-E2E-2")
    assert bench.screen_recipient("pregnancy_or_breastfeeding") == "contraindicated"
    din = bench.register_collection("adipose", volume_ml=100)

    assert bench.register_batch(din, recipient="PT-E2E-2") is None
    shown = bench.expect_refused(409, "contraindicated")
    assert len(shown) >= 2, shown  # the message and every reason
    # Nothing was registered.
    bench.page.get_by_role("navigation", name="Main").get_by_role("link", name="Batches").click()
    expect(bench.page.locator("table tbody")).to_contain_text("No batches.")


def test_passage_beyond_the_maximum_is_refused_with_its_reason(bench):
    bench.login_as("technician")
    bench.register_patient("PT-E2E-3")
    bench.screen_recipient()
    din = bench.register_collection()
    batch = bench.register_batch(din, recipient="PT-E2E-3")
    bench.scan_to_batch(batch)
    assert bench.log_step("seeding", cell_count=1_000_000)

    bench.scan_to_batch(batch)
    assert not bench.log_step("passage", passage=6)
    bench.expect_refused(409, "P5")
    # The refused form keeps the cursor in its own field; from the dashboard the scan box
    # has it again. The refused step is not on the timeline.
    bench.page.get_by_role("link", name="Dashboard").click()
    bench.scan_to_batch(batch)
    assert not any("passage" in row.lower() and "done" in row.lower() for row in bench.timeline())


def test_every_page_gives_the_focus_to_the_scan_box_or_its_own_scan_field(bench):
    """Nothing is clicked: a scan lands in the top bar's scan box, except on a form that asks
    for its own field first (the batch form's DIN field), which then has the focus."""
    page = bench.page
    bench.login_as("technician")
    nav = page.get_by_role("navigation", name="Main")
    labels = [t.strip() for t in nav.get_by_role("link").all_inner_texts()]
    assert "Batches" in labels and "Subjects" in labels, labels
    for label in labels:
        nav.get_by_role("link", name=label, exact=True).click()
        page.wait_for_load_state("domcontentloaded")
        own = page.locator("main [autofocus]")
        if own.count():
            expect(own.first).to_be_focused()
        else:
            expect(page.locator("[data-scan-box]")).to_be_focused()
    # An unknown code is answered on the page, and the scan box is ready for the next scan.
    nav.get_by_role("link", name="Dashboard").click()
    bench.scan("NOT-A-KNOWN-CODE")
    assert any("Nothing is known" in text for text in bench.flashes()), bench.flashes()
    expect(page.locator("[data-scan-box]")).to_be_focused()
