"""Every document renders whatever the length of the texts it holds (SPEC §8, bad input).

Before issue 12 the batch record answered 500 once a deviation's investigation passed
~1 500 characters: a table row taller than a page. Now a row splits across pages, and
the long texts of a deviation flow as paragraphs below its table.

Two kinds of test: through the API, every free text a document shows at the longest its
input allows (and names of 200 characters), read back from the PDF to the last word; and,
on the pure document functions, a property test over text lengths and characters.
"""

from __future__ import annotations

import pypdfium2 as pdfium
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labels.documents.batch_record import (
    BatchHeading,
    BatchRecord,
    CorrectionRow,
    CustodySummaryRow,
    DeviationRow,
    DoseRow,
    ResultRow,
    SignatureRow,
    StepRow,
    batch_record_pdf,
)
from labels.documents.coa import CertificateOfAnalysis, ReleaseTestRow, coa_pdf
from labels.documents.custody_report import CustodyReport, TimelineRow, custody_report_pdf
from tests.fixtures.clients import Credentials
from tests.fixtures.qc import PASSING, RELEASE_TESTS
from tests.fixtures.users import TEST_PASSWORD


def _pages(data: bytes) -> list[str]:
    pdf = pdfium.PdfDocument(data)
    return [" ".join(page.get_textpage().get_text_range().split()) for page in pdf]


def _long(length: int, tag: str) -> str:
    """Exactly ``length`` characters of words, the last one ``<tag>END``: finding it in the
    PDF shows that the text was printed to its end."""
    end = f" {tag}END"
    return ("lorem ipsum dolor sit amet " * (length // 20))[:length - len(end)] + end


def _headers(client, make_user, role: str, tag: str) -> Credentials:
    """Bearer headers for a new user whose printed name is 200 characters long."""
    _id, username = make_user(role, full_name=_long(200, tag))
    token = client.post("/api/v1/auth/tokens",
                        json={"username": username, "password": TEST_PASSWORD}).json["token"]
    return Credentials(token, username)


def _document(qlab, path: str) -> str:
    response = qlab.client.get(f"/api/v1{path}", headers=qlab.tech)
    assert response.status_code == 200, response.get_json(silent=True)
    assert response.mimetype == "application/pdf"
    pages = _pages(response.data)
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in page
    return " ".join(pages)


def test_batch_record_with_the_longest_investigation(app, qlab):
    """The reported case: an investigation of 10 000 characters (the most the API takes)."""
    batch = qlab.in_review()
    deviation = qlab.post(f"/batches/{batch['id']}/deviations",
                          {"description": _long(2000, "DESCRIPTION")}).json
    qlab.post(f"/deviations/{deviation['id']}/investigation",
              {"investigation": _long(10_000, "INVESTIGATION")}, status=200)
    text = _document(qlab, f"/batches/{batch['id']}/batch-record.pdf")
    assert "INVESTIGATIONEND" in text and "DESCRIPTIONEND" in text
    assert text.count("lorem ipsum") >= (10_000 + 2000) // 27 - 2


def test_batch_record_and_coa_hold_every_text_at_its_longest(app, qlab, client, make_user):
    analyst = _headers(client, make_user, "technician", "ANALYST")
    reviewer = _headers(client, make_user, "technician", "REVIEWER")
    signer = _headers(client, make_user, "qa", "SIGNER")
    patient = qlab.patient()
    collection = qlab.collection(patient, collected_by=_long(200, "COLLECTOR"),
                                 notes=_long(2000, "COLLECTIONNOTES"))
    batch = qlab.in_review(recipient=patient, collection=collection)
    harvest = next(s for s in qlab.client.get(f"/api/v1/batches/{batch['id']}/steps",
                                              headers=qlab.tech).json
                   if s["type"] == "harvest")
    qlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=qlab.tech,
                      json={"notes": _long(2000, "STEPNOTES"), "media_lot": _long(60, "LOT"),
                            "incubator": _long(60, "INC"), "reason": _long(1000, "REASON")})
    for test in RELEASE_TESTS["MSC"]:
        result = qlab.result(batch, test, headers=analyst, **PASSING[test],
                             method=_long(200, "METHOD"), instrument=_long(200, "INSTRUMENT"),
                             notes=_long(2000, "RESULTNOTES"))
        qlab.review(result, headers=reviewer)
    deviation = qlab.post(f"/batches/{batch['id']}/deviations",
                          {"description": _long(2000, "DESCRIPTION")}).json
    qlab.post(f"/deviations/{deviation['id']}/investigation",
              {"investigation": _long(10_000, "INVESTIGATION")}, status=200)
    qlab.post(f"/deviations/{deviation['id']}/close",
              {"disposition": _long(2000, "DISPOSITION"), "password": TEST_PASSWORD},
              headers=signer, status=200)
    qlab.post(f"/batches/{batch['id']}/reject",
              {"password": TEST_PASSWORD, "reason": _long(2000, "REJECTION")}, headers=signer,
              status=200)

    record = _document(qlab, f"/batches/{batch['id']}/batch-record.pdf")
    for tag in ("COLLECTOR", "STEPNOTES", "LOT", "INC", "REASON", "ANALYST", "REVIEWER",
                "METHOD", "INSTRUMENT", "DESCRIPTION", "INVESTIGATION", "DISPOSITION",
                "REJECTION", "SIGNER"):
        assert f"{tag}END" in record, tag
    coa = _document(qlab, f"/batches/{batch['id']}/coa.pdf")
    for tag in ("ANALYST", "REVIEWER", "REJECTION", "SIGNER"):
        assert f"{tag}END" in coa, tag
    assert "NOT RELEASED" in coa


def test_exceptional_release_and_custody_report_at_their_longest(app, qlab, client, make_user,
                                                                 api_headers):
    courier = _headers(client, make_user, "technician", "COURIER")
    signer = _headers(client, make_user, "qa", "SIGNER")
    donor = qlab.donor("incomplete")
    batch = qlab.in_review(origin="allogeneic", donor=donor)
    qlab.all_results(batch, skip=("sterility",))
    qlab.post(f"/batches/{batch['id']}/exceptional-release",
              {"password": TEST_PASSWORD, "physician_name": _long(200, "PHYSICIAN"),
               "physician_request": _long(4000, "REQUEST")}, headers=signer, status=201)
    qlab.post(f"/batches/{batch['id']}/exceptional-release/approve",
              {"password": TEST_PASSWORD}, headers=api_headers("qa"), status=200)
    for path in ("batch-record.pdf", "coa.pdf"):
        text = _document(qlab, f"/batches/{batch['id']}/{path}")
        assert "PHYSICIANEND" in text and "REQUESTEND" in text, path
        assert "SIGNEREND" in text, path
    dose = qlab.client.get(f"/api/v1/batches/{batch['id']}/doses", headers=qlab.tech).json[0]
    for event, tag in (("retrieved", "TANK"), ("shipped", "COURIERCO"), ("received", "WARD")):
        qlab.post(f"/doses/{dose['id']}/custody",
                  {"event": event, "location": _long(200, tag), "notes": _long(1000, "NOTES"),
                   "scanned_code": dose["barcodes"]["matrix"]}, headers=courier)
    report = _document(qlab, f"/doses/{dose['id']}/custody-report.pdf")
    for tag in ("TANK", "COURIERCO", "WARD", "COURIER", "SIGNER"):
        assert f"{tag}END" in report, tag


# -- the pure document functions, over lengths and characters -------------------------------

_ANY_CHARACTER = st.characters(exclude_categories=("Cs",))  # every code point but surrogates
_SHORT = st.text(_ANY_CHARACTER, max_size=40)
_LONG = st.builds(lambda word, separator, times: ((word + separator) * times)[:4000],
                  st.text(_ANY_CHARACTER, min_size=1, max_size=30),
                  st.sampled_from([" ", "", "\n", "\r\n", "\t"]), st.integers(1, 300))
_TEXT = st.one_of(_SHORT, _SHORT, _LONG)
_PROPERTY = settings(max_examples=5, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MARKER = "B-PROPERTY-01"


def _check(data: bytes) -> None:
    """A PDF whose every page carries the running header's marker and its page number."""
    pages = _pages(data)
    for number, page in enumerate(pages, 1):
        assert MARKER in page and f"Page {number} of {len(pages)}" in page


def _rows(kind, count: int = 2):
    return st.lists(st.builds(kind, *[_TEXT] * len(kind.__dataclass_fields__)),
                    max_size=count)


_HEADING = st.builds(BatchHeading, st.just(MARKER), _SHORT, _SHORT, _TEXT, _SHORT)


@_PROPERTY
@given(st.builds(
    BatchRecord, heading=_HEADING, identity=st.lists(st.tuples(_TEXT, _TEXT), max_size=3),
    steps=_rows(StepRow), corrections=_rows(CorrectionRow), results=_rows(ResultRow),
    deviations=_rows(DeviationRow), doses=_rows(DoseRow), custody=_rows(CustodySummaryRow),
    decision=st.lists(_TEXT, min_size=1, max_size=2), signatures=_rows(SignatureRow),
    released=st.booleans(), valid=st.none()))
def test_batch_record_renders_any_text(record):
    _check(batch_record_pdf(record))


@_PROPERTY
@given(st.builds(
    CertificateOfAnalysis, heading=_HEADING, product=_TEXT, origin=_TEXT,
    specification=_TEXT, tests=_rows(ReleaseTestRow, 3),
    decision=st.lists(_TEXT, min_size=1, max_size=2), signatures=_rows(SignatureRow),
    released=st.booleans()))
def test_coa_renders_any_text(coa):
    _check(coa_pdf(coa))


@_PROPERTY
@given(st.builds(
    CustodyReport, *[_TEXT] * 3, st.just(MARKER), *[_TEXT] * 9,
    timeline=_rows(TimelineRow, 4), chain_breaks=st.lists(_TEXT, max_size=2),
    release_signature=st.one_of(st.none(), _TEXT)))
def test_custody_report_renders_any_text(report):
    _check(custody_report_pdf(report))
