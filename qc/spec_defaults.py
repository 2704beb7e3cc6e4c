"""Default QC specifications (SPEC §2), as data.

The migration ``0004_qc`` seeds a frozen copy of these (a migration must not change
when this module does); ``tests/qc/test_specifications.py`` checks that they agree.
Specifications change afterwards only through change control (``POST
/api/v1/qc-specification-changes``, approved by a second QA officer; docs/QC.md).

Release (SPEC §2): MSC — sterility no growth, mycoplasma not detected, endotoxin
< 0.5 EU/mL, viability ≥ 70 %, CD73/CD90/CD105 ≥ 95 %, CD45/CD34/CD14/CD19/HLA-DR
≤ 2 % (ISCT minimal criteria), Gram stain no organisms. NK — sterility, mycoplasma,
endotoxin (< 0.5 EU/mL, as MSC: SPEC gives no NK limit), viability ≥ 70 %,
CD56+CD3− ≥ 70 %, CD3+ ≤ 5 %.

In-process (SPEC is silent; our choice): viability ≥ 70 % for both, and
mycoplasma not detected for MSC (tested at passage in most MSC processes).
"""

from __future__ import annotations

# (test, name, kind, comparator, limit, unit, expected_outcome)
Row = tuple[str, str, str, str | None, float | None, str | None, str | None]


def _q(test: str, name: str) -> Row:
    return (test, name, "qualitative", None, None, None, "negative")


def _n(test: str, name: str, comparator: str, limit: float, unit: str) -> Row:
    return (test, name, "numeric", comparator, limit, unit, None)


STERILITY = _q("sterility", "Sterility (no growth)")
MYCOPLASMA = _q("mycoplasma", "Mycoplasma (not detected)")
ENDOTOXIN = _n("endotoxin", "Endotoxin", "<", 0.5, "EU/mL")
VIABILITY = _n("viability", "Viability", ">=", 70, "%")

SPECIFICATIONS: dict[tuple[str, str], list[Row]] = {
    ("MSC", "release"): [
        STERILITY, MYCOPLASMA, ENDOTOXIN, VIABILITY,
        _n("cd73", "CD73+", ">=", 95, "%"),
        _n("cd90", "CD90+", ">=", 95, "%"),
        _n("cd105", "CD105+", ">=", 95, "%"),
        _n("cd45", "CD45+", "<=", 2, "%"),
        _n("cd34", "CD34+", "<=", 2, "%"),
        _n("cd14", "CD14+", "<=", 2, "%"),
        _n("cd19", "CD19+", "<=", 2, "%"),
        _n("hla_dr", "HLA-DR+", "<=", 2, "%"),
        _q("gram_stain", "Gram stain (no organisms)"),
    ],
    ("NK", "release"): [
        STERILITY, MYCOPLASMA, ENDOTOXIN, VIABILITY,
        _n("cd56_cd3neg", "CD56+CD3−", ">=", 70, "%"),
        _n("cd3", "CD3+", "<=", 5, "%"),
    ],
    ("MSC", "in_process"): [VIABILITY, MYCOPLASMA],
    ("NK", "in_process"): [VIABILITY],
}
