"""Benchmark (issue 7, item 4): 1 000 dose labels to one PDF against bare reportlab
drawing the same bar codes.

    .venv/bin/python benchmarks/label_sheet.py              # 1 000 labels
    .venv/bin/python benchmarks/label_sheet.py --labels 200

No database: the labels are :class:`labels.rendering.DoseLabel` values as
``labels.content.dose_label`` makes them (autologous, released: recipient
identifiers, the statements), rendered with ``dose_label_sheet_pdf`` (A4 sheets,
4 labels of 100 × 100 mm a page). The bare baseline draws the same three Code 128
texts and the Data Matrix with reportlab's own bar code widgets on the same pages
(no text, no checks). Best of ``--repeat``. Targets: ≤ 2 × bare and ≥ 200 labels/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from io import BytesIO

from common import Result, din_of, dose_texts, now_utc, print_results


def make_labels(count: int):
    from batches import isbt128
    from labels.rendering import DoseLabel

    expires = now_utc() + timedelta(days=200)
    collected = isbt128.collection_date_text(now_utc() - timedelta(days=30))
    labels = []
    for n in range(count):
        i, division = n // 4 + 1, isbt128.division_codes(4)[n % 4]
        texts = dose_texts(i, division, expires)
        din = din_of(i)
        labels.append(DoseLabel(
            din=din, check_character=isbt128.din_check_character(din), flags="00",
            product_code_text=texts["product"], expiry_text=texts["expiry"],
            matrix_text=texts["matrix"], product_name="Mesenchymal stromal cells (autologous)",
            cells=20_000_000, volume_ml=10, storage_temperature="≤ −150 °C",
            facility_name="Demo Cell Therapy Facility",
            facility_address="1 Example Street, Example City",
            statements=["FOR AUTOLOGOUS USE ONLY"], collection_date_text=collected,
            recipient_identifiers=[f"PT-{i:07d}", "born 1970-01-02"], division=division,
            chain_of_identity_text=None))
    return labels


def ours(labels) -> bytes:
    from labels.rendering import dose_label_sheet_pdf

    return dose_label_sheet_pdf(labels)


def bare(labels) -> bytes:
    """reportlab alone: the same bar code texts, same page layout, its own widgets."""
    from reportlab.graphics.barcode.code128 import Code128
    from reportlab.graphics.barcode.ecc200datamatrix import ECC200DataMatrix
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    buffer = BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    for index, label in enumerate(labels):
        if index and index % 4 == 0:
            canvas.showPage()
        x = 5 + (index % 2) * 100
        y = 297 - 48 - (index % 4 // 2 + 1) * 100
        for n, text in enumerate((label.din_text, label.product_code_text, label.expiry_text)):
            Code128(text, barWidth=0.25 * mm, barHeight=7 * mm, quiet=True,
                    lquiet=2.5 * mm, rquiet=2.5 * mm).drawOn(
                canvas, (x + (n % 2) * 50) * mm, (y + 80 - (n // 2) * 15) * mm)
        matrix = ECC200DataMatrix(label.matrix_text)
        matrix.validate()
        for r, row in enumerate(matrix.encode()):
            for c, dark in enumerate(row):
                if dark:
                    canvas.rect((x + 70 + c * 0.5) * mm, (y + 50 + r * 0.5) * mm, 0.5 * mm,
                                0.5 * mm, stroke=0, fill=1)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def best(run, labels, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(labels)
        times.append(time.perf_counter() - start)
    return min(times)


def run(args) -> list[Result]:
    labels = make_labels(args.labels)
    ours(labels[:8]), bare(labels[:8])  # warm up (fonts, imports)
    ours_s, bare_s = best(ours, labels, args.repeat), best(bare, labels, args.repeat)
    rate = args.labels / ours_s
    return [
        Result(f"{args.labels:,} dose labels → one PDF", ours_s, bare_s, "s", ours_s / bare_s,
               "≤ 2", ours_s / bare_s <= 2, f"{len(ours(labels)) / 2**20:.1f} MiB PDF"),
        Result("dose labels per second", rate, args.labels / bare_s, "/s", rate / (
            args.labels / bare_s), "≥ 200/s", rate >= 200, "absolute target"),
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=2)
    return p


def main(argv: list[str] | None = None) -> int:
    print_results("Dose labels (PDF sheet)", run(parser().parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
