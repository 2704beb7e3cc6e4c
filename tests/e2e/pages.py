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

When QC, labels and custody merge, add their acts here as methods of the same
shape (a few lines each), e.g. ``qc_result``, ``review_qc_result``,
``release(batch, password)`` through the signing dialog, ``print_labels``,
``receive_dose(code, location)`` and ``administer(dose, patient_code, dob)`` with
a refused wrong patient; see the ``TODO(merge)`` notes below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, Response, expect

from tests.conftest import TEST_PASSWORD

SCAN_BOX = "[data-scan-box]"


class BenchTerminal:
    """One browser page at the bench terminal, and the acts done through it."""

    def __init__(self, page: Page, make_user: Callable[..., tuple[int, str]]) -> None:
        self.page = page
        self._make_user = make_user
        self.last_status: int | None = None
        """The HTTP status of the last form post (e.g. 409 when a rule refused it)."""

    # -- session ------------------------------------------------------------------------

    def login_as(self, role: str, username: str | None = None) -> str:
        """Create a user of ``role`` (as an admin would) and log in through the login page."""
        _id, name = self._make_user(role, username=username)
        self.login(name)
        return name

    def login(self, username: str, password: str = TEST_PASSWORD) -> None:
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
        assert self.last_status == 302, self.flashes()
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

    # TODO(merge, qc): qc_result(test, value|outcome), review_qc_result(row),
    #   release(password, meaning="approval") through the signing dialog (asserting the
    #   printed name, date-time and meaning shown), reject(password, reason).
    # TODO(merge, labels/custody): print_labels(printer), receive_dose(code, location) by
    #   scanning the dose label, administer(dose_code, patient_code, date_of_birth) with
    #   the wrong-patient refusal shown (409) and its alert on the dashboard.


_STEP_LABELS = {"seeding": "Seeding", "media_change": "Media change", "feeding": "Feeding",
                "passage": "Passage", "harvest": "Harvest",
                "cryopreservation": "Cryopreservation"}
