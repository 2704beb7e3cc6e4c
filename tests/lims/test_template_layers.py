"""Templates follow the import direction too: a package's templates name no page, template
or endpoint of a higher package (those reach lower pages as page sections, registered in the
higher package's ``init_app``), so the import contract describes every dependency."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["lims", "batches", "qc", "labels"]  # lowest first, as in setup.cfg


def _references(source: str) -> set[str]:
    """The packages a template names: endpoints (``url_for('qc.…')``, page sections of
    ``'qc.…'``) and templates (``include``/``import``/``from``/``extends "qc/…"``)."""
    names = set(re.findall(r"""(?:url_for|page_sections)\(\s*['"](\w+)\.""", source))
    names |= set(re.findall(r"""{%-?\s*(?:include|import|from|extends)\s+['"](\w+)/""", source))
    return names


def test_no_template_reaches_a_higher_package():
    crossings = []
    for level, package in enumerate(LAYERS):
        higher = set(LAYERS[level + 1:])
        for template in sorted((ROOT / package).rglob("templates/**/*.html")):
            for name in _references(template.read_text(encoding="utf-8")) & higher:
                crossings.append(f"{template.relative_to(ROOT)} -> {name}")
    assert crossings == []


def test_the_check_sees_a_crossing():
    assert _references("{% include 'labels/_dose_actions.html' ignore missing %}"
                       "<a href=\"{{ url_for('qc.batch_review', batch_id=1) }}\">") == {
        "labels", "qc"}
