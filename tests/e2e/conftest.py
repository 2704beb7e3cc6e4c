"""Browser fixtures: the app on a loopback port, headless Chromium, artifacts on failure.

- ``live_server``: the test app (on this test's SQLite file or the PostgreSQL test
  database, as ``LIMS_TEST_DATABASE_URL`` says) served by werkzeug's threaded server
  on a free 127.0.0.1 port, in a background thread.
- ``browser``: Debian's Chromium (``/usr/bin/chromium``, or ``LIMS_E2E_CHROMIUM``)
  driven by Playwright's sync API. Playwright never downloads a browser here. When
  Chromium is missing the tests are skipped with the reason, except in CI
  (``CI=true``), where that is a failure.
- ``page``: a fresh browser context per test; when the test fails, a full-page
  screenshot and the page's HTML go to ``test-artifacts/``.
- ``bench``: a :class:`tests.e2e.pages.BenchTerminal` on that page.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.e2e.pages import BenchTerminal

CHROMIUM = os.environ.get("LIMS_E2E_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium's background connections hang on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 15_000



@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 — werkzeug's name
        return None


@dataclass
class LiveServer:
    url: str
    app: object


class _InFlight:
    """WSGI middleware counting the requests being answered, so that a test ends only
    once the browser's last requests (a page's images still loading when the test's
    last assertion passed) are done: none of them may write into the next test's
    database after it is reset."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0
        self.idle = threading.Condition()

    def __call__(self, environ, start_response):
        with self.idle:
            self.count += 1
        result = self.app(environ, start_response)
        try:
            return list(result)  # the whole body, and the request's teardown, inside the count
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            with self.idle:
                self.count -= 1
                self.idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.idle:
            return self.idle.wait_for(lambda: self.count == 0, timeout)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    in_flight = _InFlight(app)
    server = make_server("127.0.0.1", 0, in_flight, threaded=True,
                         request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        assert in_flight.wait_idle(timeout=30), "a request of this test never finished"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        reason = (f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); "
                  "the browser tests need it")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason + " — and in CI its absence is a failure", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server, request):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280,
                                                                      "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    # A script error or a console error fails the test: the pages must work in a real
    # browser. An HTTP error status of a document (a refused form answers 409) is asserted
    # by the tests themselves, so Chromium's "Failed to load resource" notes are not.
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(f"console {message.type}: "
                                                       f"{message.text} ({page.url})")
            if message.type == "error" and "Failed to load resource" not in message.text
            else None)
    try:
        yield page
        assert not problems, "the browser reported errors:\n" + "\n".join(problems)
    finally:
        failed = any(getattr(request.node, f"report_{when}", None) is not None
                     and getattr(request.node, f"report_{when}").failed
                     for when in ("setup", "call"))
        if failed:
            _save_artifacts(page, request.node.nodeid)
        context.close()


def _save_artifacts(page, nodeid: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)[-150:]
    try:
        page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
        (ARTIFACTS / f"{stem}.html").write_text(
            f"<!-- {page.url} -->\n" + page.content(), encoding="utf-8")
    except Exception as error:  # noqa: BLE001 — a broken page must not hide the test's failure
        (ARTIFACTS / f"{stem}.txt").write_text(f"could not capture the page: {error!r}\n")


@pytest.fixture
def bench(page, live_server, make_user) -> BenchTerminal:
    return BenchTerminal(page, make_user)
