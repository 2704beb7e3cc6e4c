"""Page helpers for the browser tests: what a person does at the bench terminal.

Each method is one thing a technician or QA officer does through the pages, and
asserts only what that act must show. Tests read like a batch record:

    bench.login_as("technician")
    patient = bench.register_patient(code="PT-1")
    bench.screen_recipient()                     # no contraindication: cleared
    din = bench.register_collection("bone_marrow", volume_ml=40)
    batch = bench.register_batch(din, product="MSC", origin="autologous", recipient="PT-1")
    bench.scan(batch)                            # the keyboard wedge, into the focused scan box
    bench.log_step("seeding", cell_count=2_000_000, viability_pct=95)

Scanning types into whatever has focus, exactly as a keyboard-wedge scanner does
(the characters, then Enter), without clicking first: that the scan box has the
focus on every page is part of what is tested.

QC, signing, labels and custody follow the same shape: ``open_qc_review``,
``qc_result``, ``review_qc_result``, ``release(password)`` through the signing
dialog, ``print_label(reason)``, ``custody(matrix, event, location)`` and
``administer(matrix, patient_code, dob)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, Response, expect

from tests.fixtures.users import TEST_PASSWORD

SCAN_BOX = "[data-scan-box]"


class BenchTerminal:
    """One browser page at the bench terminal, and the acts done through it."""

    def __init__(self, page: Page, make_user: Callable[..., tuple[int, str]]) -> None:
        self.page = page
        self._make_user = make_user
        self.last_status: int | None = None
        """The HTTP status of the last form post (e.g. 409 when a rule refused it)."""
        self._username = ""

    # -- session ------------------------------------------------------------------------

    def login_as(self, role: str, username: str | None = None) -> str:
        """Create a user of ``role`` (as an admin would) and log in through the login page."""
        _id, name = self._make_user(role, username=username)
        self.login(name)
        return name

    def login(self, username: str, password: str = TEST_PASSWORD) -> None:
        self._username = username
        page = self.page
        page.goto("/login")
        # The login page puts the cursor in the username field.
        expect(page.locator("#username")).to_be_focused()
        page.keyboard.type(username)
        page.fill("#password", password)
        self._submit(page.get_by_role("button", name="Log in"))
        assert self.last_status == 302, self.page.content()[:2000]
        expect(page.locator(".who")).to_be_visible()
        # Logged in: the dashboard's scan box has the focus, ready for the first scan.
        expect(page.locator(SCAN_BOX)).to_be_focused()

    def logout(self) -> None:
        self._submit(self.page.get_by_role("button", name="Log out"))
        expect(self.page.locator("#username")).to_be_visible()

    # -- the scan box ------------------------------------------------------------------

    def scan(self, code: str, *, into: str = SCAN_BOX, lands: str | None = None) -> None:
        """Scan ``code`` as a keyboard wedge does: it types into the focused field, then Enter.

        By default the code must land in the top bar's scan box, which must already have the
        focus (nothing is clicked), and the page must jump to what was scanned.
        """
        page = self.page
        expect(page.locator(into)).to_be_focused()
        page.keyboard.type(code)
        if into == SCAN_BOX:
            with page.expect_navigation():
                page.keyboard.press("Enter")
            if lands:
                expect(page).to_have_url(re.compile(lands))
        else:
            page.keyboard.press("Enter")

    def scan_to_batch(self, batch_number: str) -> None:
        self.scan(batch_number, lands=r"/batches/\d+$")
        expect(self.page.locator("h1")).to_contain_text(batch_number)

    def scan_to_collection(self, din: str) -> None:
        self.scan(din, lands=r"/collections/\d+$")
        expect(self.page.locator("h1 .din")).to_have_text(din)

    # -- feedback on the page ----------------------------------------------------------

    def flashes(self, category: str = "error") -> list[str]:
        return [t.strip() for t in self.page.locator(f".flash-{category}").all_inner_texts()]

    def refusal_shown(self) -> tuple:
        """What a refused form post showed: its status, the flashes, the field errors and
        the page's heading (for a failing assertion's message)."""
        heading = self.page.locator("h1")
        return (self.last_status, self.flashes(), self.field_errors(),
                heading.first.inner_text() if heading.count() else self.page.content()[:500])

    def expect_refused(self, status: int, *reasons: str) -> list[str]:
        """The last form post was refused with ``status`` and the page shows every reason."""
        assert self.last_status == status, (self.last_status, self.flashes())
        shown = self.flashes("error")
        for reason in reasons:
            assert any(reason in text for text in shown), (reason, shown)
        return shown

    def _submit(self, button, *, method: str = "POST") -> Response:
        """Click a form's button; remember the status of the form post itself."""
        page = self.page
        with page.expect_response(lambda r: r.request.method == method
                                  and r.request.resource_type == "document") as posted:
            button.click()
        page.wait_for_load_state("domcontentloaded")
        self.last_status = posted.value.status
        return posted.value

    # -- subjects and screening --------------------------------------------------------

    def register_patient(self, code: str, initials: str = "AB",
                         date_of_birth: str = "1970-01-02") -> None:
        return self._register_subject(code, "patient", initials, date_of_birth)

    def register_donor(self, code: str, initials: str = "CD",
                       date_of_birth: str = "1990-05-06") -> None:
        return self._register_subject(code, "donor", initials, date_of_birth)

    def _register_subject(self, code: str, kind: str, initials: str, date_of_birth: str):
        page = self.page
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Subjects").click()
        expect(page.locator(SCAN_BOX)).to_be_focused()
        page.fill("#code", code)
        page.check(f"input[name=kind][value={kind}]")
        page.fill("#initials", initials)
        page.fill("#date_of_birth", date_of_birth)
        self._submit(page.get_by_role("button", name="Register subject"))
        assert self.last_status == 302, self.refusal_shown()
        expect(page.locator("h1")).to_have_text(f"{kind.title()} {code}")

    def screen_recipient(self, *contraindications: str) -> str:
        """On a patient's page: tick the contraindications present; returns the new status."""
        page = self.page
        for code in contraindications:
            page.check(f"input[name=contraindications][value={code}]")
        self._submit(page.get_by_role("button", name="Record recipient screening"))
        assert self.last_status == 302, self.flashes()
        expected = "contraindicated" if contraindications else "cleared"
        expect(page.locator("#recipient-status [data-status]")).to_have_attribute(
            "data-status", expected)
        return expected

    # -- collections and batches -------------------------------------------------------

    def register_collection(self, source: str = "bone_marrow", volume_ml: float = 40.0) -> str:
        """From a subject's page: register a collection for that subject; returns its DIN."""
        page = self.page
        page.get_by_role("link", name="Register a collection").click()
        page.check(f"input[name=source][value={source}]")
        page.fill("#volume_ml", str(volume_ml))
        self._submit(page.get_by_role("button", name="Register collection and assign DIN"))
        assert self.last_status == 302, self.flashes()
        din = page.locator("h1 .din").inner_text().strip()
        assert re.fullmatch(r"[A-NP-Z1-9]\d{4}\d{2}\d{6}", din), din
        expect(page.locator(".flash-success")).to_contain_text(din)
        return din

    def register_batch(self, din: str, *, product: str = "MSC", origin: str = "autologous",
                       recipient: str) -> str | None:
        """On the batch list: scan the collection's DIN into the registration form (it has the
        focus there), choose product, origin and recipient. Returns the batch number, or
        ``None`` when refused (see :attr:`last_status` and :meth:`flashes`)."""
        page = self.page
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Batches").click()
        # The registration form's scan field has the focus; a scanner's Enter moves on to
        # the next field instead of submitting the half-filled form.
        self.scan(din, into="#collection_scan")
        expect(page.locator("#collection_id")).to_be_focused()
        page.check(f"input[name=product][value={product}]")
        page.check(f"input[name=origin][value={origin}]")
        option = page.locator("#recipient_id option").filter(
            has_text=re.compile(rf"^{re.escape(recipient)} "))
        page.select_option("#recipient_id", value=option.get_attribute("value"))
        self._submit(page.get_by_role("button", name="Register batch"))
        if self.last_status != 302:
            return None
        heading = page.locator("h1").inner_text()
        number = re.search(r"Batch (\S+)", heading)
        assert number, heading
        return number.group(1)

    def batch_status(self) -> str:
        return self.page.locator("#batch-status [data-status]").get_attribute("data-status")

    # -- culture ---------------------------------------------------------------------------

    def log_step(self, step_type: str, **values: Any) -> bool:
        """On a batch's page: open the step's screen and log it. True when it was recorded."""
        page = self.page
        page.locator(".bigbuttons").get_by_role("link", name=_STEP_LABELS[step_type],
                                                exact=True).click()
        expect(page.locator("h2")).to_have_text(_STEP_LABELS[step_type])
        for name, value in values.items():
            page.fill(f"#{name}", str(value))
        self._submit(page.get_by_role("button", name=f"Log {_STEP_LABELS[step_type].lower()}"))
        if self.last_status != 302:
            return False
        expect(page.locator(".flash-success")).to_contain_text(
            f"{_STEP_LABELS[step_type]} logged")
        return True

    def timeline(self) -> list[str]:
        """The batch timeline's rows as text ("Seeding done …")."""
        return [" ".join(t.split()) for t in
                self.page.locator("table.steps tbody tr").all_inner_texts()]

    # -- doses -----------------------------------------------------------------------------

    def formulate(self, count: int, cells_per_dose: int, volume_ml: float) -> list[str]:
        """On a harvested batch's page: formulate the doses; returns their codes."""
        page = self.page
        page.fill("#count", str(count))
        page.fill("#cells_per_dose", str(cells_per_dose))
        page.fill("#volume_ml", str(volume_ml))
        self._submit(page.get_by_role("button", name="Formulate doses"))
        assert self.last_status == 302, self.flashes()
        expect(page.locator(".flash-success")).to_contain_text(f"{count} doses formulated")
        return [t.strip() for t in page.locator("a[href*='/doses/']").all_inner_texts()]

    # -- QC results and review (qc/templates/qc/review.html) ------------------------------

    def open_qc_review(self, batch_number: str) -> None:
        """Scan the batch number into the focused scan box, then open its QC page."""
        self.scan_to_batch(batch_number)
        self.page.get_by_role("link", name="QC results and review").click()
        expect(self.page.locator("h1")).to_contain_text(f"Batch record review: {batch_number}")

    def qc_result(self, test: str, value: float | None = None, unit: str | None = None,
                  outcome: str | None = None) -> str:
        """On the QC page: enter one result; returns the flash ("viability 91.0 %: pass.")."""
        page = self.page
        form = page.locator("#result-form")
        page.select_option("#test", value=test)
        form.locator("#value").fill("" if value is None else str(value))
        form.locator("#unit").fill(unit or "")
        page.select_option("#outcome", value=outcome or "")
        self._submit(form.get_by_role("button", name="Enter result"))
        assert self.last_status == 302, (self.last_status, self.flashes(), self.field_errors())
        shown = self.flashes("success") + self.flashes("warning")
        assert any(text.startswith(test) for text in shown), shown
        return shown[0]

    def correct_qc_result(self, test: str, value: float, reason: str) -> None:
        row = self._result_row(test)
        row.locator("summary", has_text="Correct").click()
        row.locator("input[name=value]").fill(str(value))
        row.locator("input[name=reason]").fill(reason)
        self._submit(row.get_by_role("button", name="Correct"))
        assert self.last_status == 302, (self.last_status, self.flashes())

    def review_qc_result(self, test: str) -> None:
        """On the QC page, as someone other than the analyst: review the test's result."""
        row = self._result_row(test)
        self._submit(row.get_by_role("button", name="Review"))
        assert self.last_status == 302, (self.last_status, self.flashes())
        expect(self.page.locator(".flash-success")).to_contain_text(f"{test} reviewed")

    def _result_row(self, test: str):
        return self.page.locator("#qc-results tbody tr").filter(
            has=self.page.locator("td:first-child", has_text=re.compile(rf"^{test}\b")))

    def exceptions(self) -> list[tuple[str, str]]:
        """The "Needs a look" list of the review page: (kind, text), in page order."""
        items = self.page.locator("#exceptions li[data-exception]")
        return [(item.get_attribute("data-exception"), " ".join(item.inner_text().split()))
                for item in items.all()]

    def field_errors(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".field-error").all_inner_texts()]

    # -- signing (QA) ---------------------------------------------------------------------

    def signing_dialog(self):
        dialog = self.page.locator("dialog#sign-dialog")
        expect(dialog).to_be_visible()
        return dialog

    def sign_in(self, form, password: str = TEST_PASSWORD, meaning: str | None = None,
                username: str | None = None) -> None:
        """Fill a signing dialog's fields (auth/_signature_fields.html): the user id where
        the session's first signing asks for it (your own unless ``username``), the
        meaning if given, the password."""
        user_id = form.locator("input[name=username]")
        if user_id.count():
            user_id.fill(self._username if username is None else username)
        if meaning is not None:
            form.locator("select[name=meaning]").select_option(meaning)
        form.locator("input[name=password]").fill(password)

    def release(self, password: str = TEST_PASSWORD, meaning: str = "approval") -> bool:
        """Through the signing dialog: (user id,) meaning, the password, "Sign release".
        True when released (see :attr:`last_status` and :meth:`flashes` otherwise)."""
        dialog = self.signing_dialog()
        self.sign_in(dialog, password, meaning)
        self._submit(dialog.get_by_role("button", name="Sign release"))
        return self.last_status == 302

    def signatures(self) -> list[str]:
        return [" ".join(t.split()) for t in
                self.page.locator("#signatures li.signature").all_inner_texts()]

    # -- labels ---------------------------------------------------------------------------

    def open_dose(self, code: str) -> None:
        self.scan(code, lands=r"/doses/\d+$")
        expect(self.page.locator("h1")).to_contain_text(code)

    def dose_barcode(self, name: str = "matrix") -> str:
        """On a dose page: the exact text its label encodes (what a scanner reads)."""
        facts = self.page.locator("dl.barcodes")
        return facts.locator(f"dt:text-is('{name}') + dd code").inner_text()

    def open_label_pdf(self) -> Response:
        """The dose page's "Open label PDF" link, fetched with the page's session."""
        link = self.page.get_by_role("link", name="Open label PDF")
        response = self.page.request.get(link.get_attribute("href"))
        assert response.ok, response.status
        return response

    def print_label(self, reason: str | None = None) -> None:
        """"Send to label printer" (first print) or "Reprint on label printer" with a
        reason. Asserts the print was sent and appears in the history."""
        page = self.page
        actions = page.locator("#label-actions")
        if reason is not None:
            actions.locator("#reprint-reason").fill(reason)
        button = actions.get_by_role("button", name=re.compile("label printer"))
        self._submit(button)
        assert self.last_status == 302, (self.last_status, self.flashes())
        expect(page.locator(".flash-success")).to_contain_text(
            "Reprint sent" if reason else "Label sent")

    def printed_copies(self) -> list[str]:
        return [" ".join(t.split()) for t in
                self.page.locator("#label-actions table tbody tr").all_inner_texts()]

    # -- custody and the bedside ----------------------------------------------------------

    def custody(self, matrix: str, event: str, location: str,
                temperature_c: float | None = None) -> bool:
        """Nav "Custody", scan the dose label (wedge), choose the event, then re-scan the
        label to confirm (its Enter records the handoff). True when recorded."""
        page = self.page
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Custody").click()
        with page.expect_navigation():
            self.scan(matrix, into="#code")
        expect(page.locator("h1")).to_contain_text("Custody · dose")
        page.check(f"input[name=event][value={event}]")
        page.fill("#location", location)
        if temperature_c is not None:
            page.fill("#temperature_c", str(temperature_c))
        page.focus("#scanned_code")
        page.keyboard.type(matrix)
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.request.resource_type == "document") as posted:
            page.keyboard.press("Enter")
        page.wait_for_load_state("domcontentloaded")
        self.last_status = posted.value.status
        return self.last_status == 302

    def bedside_scan(self, matrix: str) -> bool:
        """Nav "Bedside", scan the dose label (its Enter checks the dose). True when the dose
        may be given and the page asks for the patient; otherwise it says DO NOT ADMINISTER
        (:meth:`do_not_administer`) with the scan field cleared and focused again."""
        page = self.page
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Bedside").click()
        expect(page.locator("#scanned_code")).to_be_focused()
        page.keyboard.type(matrix)
        with page.expect_response(lambda r: r.request.method == "GET"
                                  and r.request.resource_type == "document") as checked:
            page.keyboard.press("Enter")
        page.wait_for_load_state("domcontentloaded")
        self.last_status = checked.value.status
        if self.last_status == 200:
            expect(page.locator("#dose-accepted")).to_be_visible()
            expect(page.locator("#patient_code")).to_be_focused()
            return True
        expect(page.locator("#scanned_code")).to_be_focused()
        expect(page.locator("#scanned_code")).to_have_value("")
        return False

    def do_not_administer(self) -> list[str]:
        """The bedside's DO NOT ADMINISTER box after a dose scan: its title and reasons."""
        box = self.page.locator("#do-not-administer")
        expect(box).to_be_visible()
        return [" ".join(t.split()) for t in box.locator("p, li").all_inner_texts()]

    def administer(self, matrix: str, patient_code: str, date_of_birth: str,
                   location: str = "Ward 3, bed 12") -> bool:
        """Nav "Bedside": scan the dose label (checked at once), scan the wristband (its Enter
        moves on), the date of birth, confirm. True when administered; else the page shows
        why (:meth:`mismatch`, or :meth:`do_not_administer` when the dose scan was refused)."""
        page = self.page
        if not self.bedside_scan(matrix):
            return False
        self.scan(patient_code, into="#patient_code")
        expect(page.locator("#patient_date_of_birth")).to_be_focused()
        page.fill("#patient_date_of_birth", date_of_birth)
        page.fill("#location", location)
        self._submit(page.get_by_role("button", name="Check identity and record administration"))
        return self.last_status == 302

    def mismatch(self) -> list[str]:
        box = self.page.locator("#mismatch")
        expect(box).to_be_visible()
        return [" ".join(t.split()) for t in box.locator("p, li").all_inner_texts()]

    # -- a release that stops holding (SPEC §3b) ------------------------------------------

    def correct_qc_outcome(self, test: str, outcome: str, reason: str) -> None:
        """On the QC page: correct a qualitative result (e.g. sterility) with a reason."""
        row = self._result_row(test)
        row.locator("summary", has_text="Correct").click()
        row.locator("select[name=outcome]").select_option(outcome)
        row.locator("input[name=reason]").fill(reason)
        self._submit(row.get_by_role("button", name="Correct"))
        assert self.last_status == 302, (self.last_status, self.flashes())

    def suspension_banner(self) -> list[str]:
        """The batch (or dose) page's RELEASE SUSPENDED banner: title, text and causes."""
        box = self.page.locator("#suspension-banner")
        expect(box).to_be_visible()
        return [" ".join(t.split()) for t in box.locator("p, li").all_inner_texts()]

    def alert_rows(self) -> list[tuple[str, str]]:
        """(kind, severity) of the alerts listed on this page, in order."""
        rows = self.page.locator("table.alerts tbody tr")
        return [(r.get_attribute("data-kind"), r.get_attribute("data-severity"))
                for r in rows.all()]

    def close_alert(self, kind: str, investigation: str) -> None:
        """On the alerts page: "Close with investigation" on the open alert of ``kind``."""
        page = self.page
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
        row = page.locator(f"table.alerts tbody tr[data-kind={kind}]")
        row.locator("summary", has_text="Close with investigation").click()
        row.locator("textarea[name=investigation]").fill(investigation)
        self._submit(row.get_by_role("button", name="Close alert"))
        assert self.last_status == 302, (self.last_status, self.flashes())
        expect(page.locator(".flash-success")).to_contain_text("Alert closed")

    def recall_batch(self, reason: str, password: str = TEST_PASSWORD) -> bool:
        """From the batch page's banner: "recall it", the reason, the signature. True when
        recalled (the recall record is shown)."""
        page = self.page
        page.locator("#recall-link").click()
        expect(page.locator("h1")).to_contain_text("Recall batch")
        expect(page.locator("#recall-reason")).to_be_focused()
        page.keyboard.type(reason)
        form = page.locator("#recall-form")
        self.sign_in(form, password)
        self._submit(form.get_by_role("button", name="Sign recall"))
        if self.last_status != 302:
            return False
        expect(page.locator("h1")).to_contain_text("Recall of batch")
        return True

    def recall_disposition(self, matrix: str, disposition: str, notes: str = "") -> bool:
        """On the recall record: the notes, then the disposition (a mouse choice), then scan
        the dose label — the scan still lands in the scan field — and its Enter records it."""
        page = self.page
        form = page.locator("#disposition-form")
        if notes:
            form.locator("#disp-notes").fill(notes)
        form.locator(f"input[name=disposition][value={disposition}]").check()
        expect(form.locator("#disp-scan")).to_be_focused()
        page.keyboard.type(matrix)
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.request.resource_type == "document") as posted:
            page.keyboard.press("Enter")
        page.wait_for_load_state("domcontentloaded")
        self.last_status = posted.value.status
        return self.last_status == 302


_STEP_LABELS = {"seeding": "Seeding", "media_change": "Media change", "feeding": "Feeding",
                "passage": "Passage", "harvest": "Harvest",
                "cryopreservation": "Cryopreservation"}
