"""Documents: the batch record, the certificate of analysis and the chain-of-custody
report, as PDF bytes (SPEC §3, §5, §8).

- ``canvas`` — the one paged canvas: running header, footer, "Page x of y";
- ``tables`` — the one set of text styles and the one table style: every text goes in
  through ``paragraph`` or ``table``, whose rows split across pages;
- ``layout`` — the one document layout: title, facility, generation time, banner,
  sections (facts, a table, long texts, notes);
- ``batch_record``, ``coa``, ``custody_report`` — each document: plain data in, PDF
  bytes out;
- ``from_records`` — reads the database into that plain data.

Everything but ``from_records`` is pure: no Flask, no request, no database. Auditing a
download is the caller's job (:mod:`labels.services`). Dose and in-process labels are
labels, not documents (:mod:`labels.rendering`).
"""
