"""Issue 7 in a real browser, from the bench to the bedside (SPEC §3, §5, §6, §7).

A technician registers a collection and batch and logs its steps by scanning; enters the
QC results on the QC page (reached by scanning the batch number); a second technician
reviews them; a QA officer who did nothing on the batch opens the release queue, sees the
exceptions first, reads what is signed in the signing dialog, is refused with a wrong
password, and releases; labels are opened and printed (a reprint needs a reason); the
dose is retrieved, shipped and received by scanning its label; at the bedside the wrong
patient is refused on the page (and alerted on the dashboard), the right one gets it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.labels.test_printing import LOOPBACK, fake_printer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NK_RESULTS = [  # (test, value, unit, outcome): every NK release test, passing
    ("sterility", None, None, "negative"), ("mycoplasma", None, None, "negative"),
    ("endotoxin", 0.1, "EU/mL", None), ("viability", 91.0, "%", None),
    ("cd56_cd3neg", 85.0, "%", None), ("cd3", 1.5, "%", None),
]
PATIENT, DOB = "PT-E2E-REL", "1968-03-14"
SIGNATURE = re.compile(r"QA Officer Grace \(qa-grace\) — approval — "
                       r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


def _culture_and_formulate(bench) -> tuple[str, list[str]]:
    """Technician 1: patient, collection, NK batch, seeding, harvest, two doses."""
    bench.register_patient(PATIENT, initials="JD", date_of_birth=DOB)
    assert bench.screen_recipient() == "cleared"
    din = bench.register_collection("bone_marrow", volume_ml=42.5)
    batch = bench.register_batch(din, product="NK", origin="autologous", recipient=PATIENT)
    assert batch and batch.startswith("NK-"), bench.flashes()
    bench.scan_to_batch(batch)
    assert bench.log_step("seeding", cell_count=2_000_000, viability_pct=96)
    bench.scan_to_batch(batch)
    assert bench.log_step("harvest", cell_count=120_000_000, viability_pct=93), bench.flashes()
    doses = bench.formulate(count=2, cells_per_dose=40_000_000, volume_ml=10)
    assert bench.batch_status() == "qc_review"
    return batch, doses


def test_from_qc_to_release_labels_custody_and_bedside(bench, live_server, make_user):
    page = bench.page
    bench.login_as("technician", username="tech-ana")
    batch, doses = _culture_and_formulate(bench)

    # QC results, entered on the QC page reached by scanning the batch number.
    page.get_by_role("link", name="Dashboard").click()
    bench.open_qc_review(batch)
    for test, value, unit, outcome in NK_RESULTS:
        assert bench.qc_result(test, value, unit, outcome).endswith(": pass.")
    # A typo corrected, with its reason: it is an exception for QA to look at.
    bench.correct_qc_result("viability", 92.0, "transcription error: 92 on the printout")
    bench.logout()

    # A second technician reviews every result; the page lists them as exceptions first.
    bench.login_as("technician", username="tech-ben")
    bench.open_qc_review(batch)
    kinds = [kind for kind, _text in bench.exceptions()]
    assert kinds.count("not reviewed") == len(NK_RESULTS), kinds
    for test, *_ in NK_RESULTS:
        bench.review_qc_result(test)
    assert all(kind != "not reviewed" for kind, _text in bench.exceptions())
    bench.logout()

    # QA, who did nothing on this batch: release queue → review by exception → signing.
    make_user("qa", username="qa-grace", full_name="QA Officer Grace")
    bench.login("qa-grace")
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Release queue").click()
    row = page.locator("#release-queue tr", has=page.get_by_role("link", name=batch))
    expect(row).to_contain_text("ready to sign")
    row.get_by_role("link", name=batch).click()
    expect(page.locator("h1")).to_contain_text(f"Batch record review: {batch}")
    sections = page.locator("main section.card").evaluate_all(
        "cards => cards.map(c => c.id)")
    assert sections.index("exceptions") < sections.index("qc-results"), sections
    exceptions = bench.exceptions()
    assert ("corrected" in [kind for kind, _ in exceptions]
            and any("viability corrected" in text for _, text in exceptions)), exceptions
    expect(page.locator("#qc-results")).to_contain_text("tech-ben")  # who reviewed
    dialog = bench.signing_dialog()
    expect(dialog).to_contain_text(f"I, QA Officer Grace (qa-grace), approve batch {batch}")
    expect(dialog).to_contain_text("printed name, the date and time (UTC) and the meaning")
    expect(dialog.locator("#meaning option:checked")).to_contain_text("approval")
    # The only meaning of a release is offered; the session's first signature asks for
    # the user id as well as the password (SPEC §8).
    expect(dialog.locator("#meaning option")).to_have_count(1)
    expect(dialog.locator("#username")).to_be_visible()
    expect(dialog.get_by_text("First signature of this session")).to_be_visible()

    # A wrong password is refused in the dialog, with the attempts left; nothing is signed.
    assert not bench.release(password="not-my-password")
    assert bench.last_status == 401, (bench.last_status, bench.flashes())
    assert bench.flashes("error"), page.content()[:2000]
    dialog = bench.signing_dialog()
    expect(dialog.locator("#password-error")).to_contain_text("4 attempts left")
    expect(dialog.locator("#username")).to_have_value("qa-grace")
    expect(dialog.locator("#password")).to_have_value("")
    assert bench.signatures() == []
    assert bench.batch_status() == "qc_review"

    assert bench.release(), (bench.last_status, bench.flashes())
    expect(page.locator(".flash-success")).to_contain_text(f"Batch {batch} released")
    assert bench.batch_status() == "released"
    [signature] = bench.signatures()
    assert SIGNATURE.search(signature) and "valid" in signature, signature
    bench.logout()

    # Labels: the final label as a PDF, sent to a (loopback) label printer; a reprint
    # needs a reason, which the page asks for.
    bench.login_as("technician", username="tech-cy")
    with fake_printer() as printer:
        live_server.app.config.update(PRINTER_HOST=LOOPBACK,
                                      PRINTER_PORT=printer.server_address[1],
                                      PRINTER_TIMEOUT=5)
        bench.open_dose(doses[0])
        expect(page.locator("#label-actions")).not_to_contain_text("Quarantine label")
        pdf = bench.open_label_pdf()
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF")
        bench.print_label()
        assert printer.jobs.get(timeout=5).startswith(b"^XA")
        reason = page.locator("#reprint-reason")
        expect(reason).to_be_visible()
        page.get_by_role("button", name="Reprint on label printer").click()
        # The browser keeps the form until the reason is given: no second copy is sent.
        assert reason.evaluate("el => !el.checkValidity() && el.validationMessage !== ''")
        assert len(bench.printed_copies()) == 1
        bench.print_label(reason="label smudged at the cryo bag seam")
        assert printer.jobs.get(timeout=5).startswith(b"^XA")
        copies = bench.printed_copies()
        assert len(copies) == 2 and "label smudged" in copies[-1], copies
    matrix = bench.dose_barcode("matrix")

    # Custody: each handoff confirmed by scanning the dose label.
    for event, location, temperature in (("retrieved", "Processing lab, fridge 2", 4.0),
                                         ("shipped", "Courier van 7", 5.5),
                                         ("received", "Ward 3 pharmacy", 4.5)):
        assert bench.custody(matrix, event, location, temperature), \
            (event, bench.last_status, page.locator("#refusal").all_inner_texts())
        expect(page.locator(".flash-success")).to_contain_text(f"dose {doses[0]} at {location}")
        # Back on the custody scan page, its own scan field is ready for the next label.
        expect(page.locator("#code")).to_be_focused()
    page.get_by_role("link", name="Dashboard").click()
    bench.open_dose(doses[0])
    timeline = page.locator("section.card", has=page.locator("h2", has_text=re.compile(
        "^Custody$"))).locator("tbody tr")
    expect(timeline).to_have_count(4)  # stored at formulation, then the three above

    # Bedside: the wrong patient is refused on the page, recorded and alerted…
    assert not bench.administer(matrix, "PT-SOMEONE-ELSE", "1970-01-02")
    assert bench.last_status == 409
    shown = bench.mismatch()
    assert "IDENTITY MISMATCH — DO NOT ADMINISTER" in shown, shown
    assert any("patient code" in text for text in shown), shown
    assert any("date of birth" in text for text in shown), shown
    page.get_by_role("link", name="Dashboard").click()
    alert = page.locator("#alerts-panel tr", has_text="identity mismatch")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("open")

    # …and the right patient gets the dose.
    assert bench.administer(matrix, PATIENT, DOB), (bench.last_status, bench.mismatch())
    expect(page.locator(".flash-success")).to_contain_text(
        f"Identity verified. Dose {doses[0]} recorded as administered to {PATIENT}")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "administered")
