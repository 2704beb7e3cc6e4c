"""Print jobs (SPEC §6, §8 "slow peripherals never stall the application"): a print is
recorded (queued, committed) before the printer is contacted and its outcome (sent or
failed) after, outside any database lock; a dead printer delays no other request.

Real sockets on the loopback interface: a printer that takes the job, a closed port, and
a printer that never answers (its listening socket's backlog is full, so the kernel
drops the connection request and the sender waits until its timeout).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from labels.models import LabelPrint, PrintStatus
from lims.db import db
from tests.batches.dose_helpers import formulated
from tests.fixtures.records import KEPT_FAILED_PRINT, audit_entries
from tests.fixtures.users import csrf_token
from tests.labels.test_printing import LOOPBACK, bound_port, fake_printer


@contextmanager
def unanswering_printer() -> Iterator[int]:
    """The port of a printer that never answers: it listens, but its backlog is full."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(32):  # connections nobody accepts, until one is no longer answered
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.5)
            try:
                filler.connect(address)
            except TimeoutError:
                filler.close()
                break
            fillers.append(filler)
        else:
            pytest.fail("the listener's backlog never filled")
        yield address[1]
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _jobs(app, dose_id: int) -> list[tuple[int, str, int]]:
    """(id, status, copy number) of the dose's print jobs, read on a connection of its own."""
    with app.app_context():
        rows = db.session.execute(select(LabelPrint.id, LabelPrint.status, LabelPrint.copy_number)
                                  .where(LabelPrint.dose_id == dose_id).order_by(LabelPrint.id))
        return [tuple(row) for row in rows]


def _wait_for_queued_job(app, dose_id: int, patience: float = 15.0) -> int:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        queued = [job for job, status, _copy in _jobs(app, dose_id) if status == "queued"]
        if queued:
            return queued[0]
        time.sleep(0.02)
    pytest.fail("no queued print job was committed while the printer was being contacted")


def test_a_dead_printer_stalls_no_other_request(app, lab):
    _batch, [dose, _] = formulated(lab)
    path = f"/api/v1/doses/{dose['id']}/print"
    events: list[str] = []
    lock = threading.Lock()

    def happened(what: str) -> None:
        with lock:
            events.append(what)

    def send_to_printer():
        response = app.test_client().post(path, json={}, headers=lab.tech)
        happened("print answered")
        return response

    with unanswering_printer() as port:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=port, PRINTER_TIMEOUT=4)
        with ThreadPoolExecutor(max_workers=1) as pool:
            printing = pool.submit(send_to_printer)
            job_id = _wait_for_queued_job(app, dose["id"])
            happened("job queued")
            # while the printer hangs: a read, a write on the same dose, an audited write
            read = app.test_client().get(f"/api/v1/doses/{dose['id']}", headers=lab.tech)
            happened("read answered")
            reprint = app.test_client().post(path, json={}, headers=lab.tech)
            happened("reprint answered")
            patient = lab.patient()
            happened("write answered")
            printed = printing.result(timeout=60)
    assert events == ["job queued", "read answered", "reprint answered", "write answered",
                      "print answered"]
    assert read.status_code == 200
    # the job in flight may have printed: it counts as a copy, so this is a reprint
    assert reprint.status_code == 400 and reprint.json["error"] == "reason_required"
    assert patient["id"]
    assert printed.status_code == 503, printed.json
    assert f"{LOOPBACK}:{port} did not answer" in printed.json["message"]
    assert printed.json["details"]["print_id"] == job_id
    assert _jobs(app, dose["id"]) == [(job_id, "failed", 1)]
    assert [e["changes"]["status"] for e in audit_entries(app, "label_print", job_id)] == \
        [[None, "queued"], ["queued", "failed"]]


def test_a_sent_job_records_both_states(app, lab):
    _batch, [dose, _] = formulated(lab)
    with fake_printer() as printer:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=printer.server_address[1])
        job = lab.post(f"/doses/{dose['id']}/print", {}).json
        printer.jobs.get(timeout=5)
    assert job["status"] == "sent" and job["problem"] is None
    assert job["outcome_at"] >= job["printed_at"]
    entries = audit_entries(app, "label_print", job["id"])
    assert [e["action"] for e in entries] == ["create", "update"]
    assert entries[0]["changes"]["status"] == [None, "queued"]
    assert "outcome_at" not in entries[0]["changes"]
    assert set(entries[1]["changes"]) == {"status", "outcome_at"}
    assert entries[1]["changes"]["status"] == ["queued", "sent"]


def test_a_failed_print_is_shown_and_the_next_attempt_is_still_the_first_copy(
        app, lab, client, login_as):
    _batch, [dose, _] = formulated(lab)
    with bound_port() as port:
        app.config.update(PRINTER_HOST=LOOPBACK, PRINTER_PORT=port, PRINTER_TIMEOUT=1)
        failed = lab.post(f"/doses/{dose['id']}/print", {}, status=503,
                          audited=KEPT_FAILED_PRINT).json
    login_as("technician")
    page = client.get(f"/doses/{dose['id']}").get_data(as_text=True)
    assert 'data-print-status="failed"' in page and "FAILED: nothing printed" in page
    assert "refused the connection" in page
    assert "Reprint reason" not in page  # nothing was printed: not a reprint
    with fake_printer() as printer:
        app.config.update(PRINTER_PORT=printer.server_address[1])
        token = csrf_token(client, f"/doses/{dose['id']}")
        assert client.post(f"/doses/{dose['id']}/print",
                           data={"csrf_token": token}).status_code == 302
        printer.jobs.get(timeout=5)
    listed = lab.client.get(f"/api/v1/doses/{dose['id']}/prints", headers=lab.tech).json
    assert [(p["status"], p["copy_number"], p["reprint"]) for p in listed] == \
        [("failed", 1, False), ("sent", 1, False)]
    assert listed[0]["id"] == failed["details"]["print_id"]
    page = client.get(f"/doses/{dose['id']}").get_data(as_text=True)
    assert "Reprint reason" in page


def test_two_copies_of_one_label_that_did_not_fail_are_refused_by_the_database(app, lab):
    _batch, [dose, _] = formulated(lab)
    from sqlalchemy.exc import IntegrityError

    from lims.auth.models import User
    from lims.clock import utcnow

    with app.app_context():
        user = db.session.scalars(select(User)).first()

        def job(status: str, **fields) -> LabelPrint:
            return LabelPrint(dose_id=dose["id"], copy_number=1, reprint=False, quarantine=True,
                              printer="p:9100", dpi=203, printed_by_id=user.id, status=status,
                              printed_at=utcnow(), **fields)

        db.session.add_all([job(PrintStatus.failed, problem="refused", outcome_at=utcnow()),
                            job(PrintStatus.sent, outcome_at=utcnow())])
        db.session.commit()
        db.session.add(job(PrintStatus.queued))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        db.session.add(job(PrintStatus.failed, outcome_at=utcnow()))  # failed needs a problem
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
    assert [status for _id, status, _copy in _jobs(app, dose["id"])] == ["failed", "sent"]
