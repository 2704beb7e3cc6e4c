"""Render the label pictures in docs/labels/ from sample data (docs/LABELS.md).

    PYTHONPATH=. python tools/label_pictures.py [--out docs/labels]

Pure rendering (``labels.rendering``), no app and no database: each picture is a
dose label PDF rasterised in grey by pypdfium2 at 3 pixels a point (851 px for
100 mm).  The sample dose is the first of a divided product (division ``A0``).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium

from batches import isbt128
from labels.rendering import DoseLabel, dose_label_pdf
from labels.statements import label_statements

ROOT = Path(__file__).resolve().parent.parent
SCALE = 3  # pixels a point


def ineligible_donor_label() -> DoseLabel:
    """An allogeneic dose in quarantine from an ineligible donor (HCV NAT and syphilis
    reactive, CMV reactive recorded): the biohazard legend and its warnings."""
    din = isbt128.make_din("G1234", 2025, 123456)
    product = isbt128.product_code_text("1234", "V", "A0")
    expiry = isbt128.expiry_text(date(2025, 12, 31))
    statements = label_statements(
        origin="allogeneic", recipient_identifiers=("P-0042", "DOB 1970-01-31"),
        donor_status="ineligible", reactive_agents=["HCV (NAT)", "syphilis"],
        recorded_reactive_agents=["CMV"], released=False)
    return DoseLabel(
        din=din, check_character=isbt128.din_check_character(din), flags="00",
        product_code_text=product, expiry_text=expiry,
        matrix_text=isbt128.dose_matrix_text(isbt128.din_barcode_text(din, "00"), product,
                                             expiry),
        product_name="NK cells (allogeneic)", cells=100_000_000, volume_ml=20,
        storage_temperature="at or below -150 °C",
        facility_name="Example Cell Processing Facility",
        facility_address="1 Lab Street, Example City", statements=statements,
        collection_date_text=isbt128.collection_date_text(date(2025, 6, 1)),
        recipient_identifiers=("P-0042", "DOB 1970-01-31"), division="A0", quarantine=True,
        chain_of_identity_text=isbt128.chain_of_identity_text("G1234", 2025, 7))


PICTURES = {"ineligible-donor-biohazard.png": ineligible_donor_label}


def render_png(pdf: bytes, path: Path) -> None:
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        page.render(scale=SCALE, grayscale=True).to_pil().save(path, optimize=True)
        page.close()
    finally:
        document.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "labels")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, make in PICTURES.items():
        render_png(dose_label_pdf(make()), args.out / name)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
