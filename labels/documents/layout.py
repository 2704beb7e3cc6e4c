"""The one document layout (SPEC §3, §5, §8).

A :class:`Document` is a title, a running header (printed on every page with "Page x of
y"), the facility, the generation time, an optional banner (e.g. "NOT RELEASED") and
sections. A :class:`Section` holds short facts, a table of short values, long texts and
notes; the long texts (an investigation, a physician's request) flow as paragraphs
below the table rather than in a narrow column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, Spacer

from labels.documents.canvas import CONTENT_WIDTH_MM, build_pdf
from labels.documents.tables import Styles, paragraph, styles, table

FACT_LABEL_MM = 40.0
HEADING_ROOM = 60.0  # points: a heading starts a new page unless this much is left under it
LABEL_ROOM = 35.0  # a labelled text's label, likewise


@dataclass(frozen=True)
class Section:
    """A heading, then any of: ``facts`` (label, value) as a two-column table; a table
    (``header`` + ``rows``, column ``widths`` in mm, summing to at most 180); ``texts``
    (label, long text), each a flowing paragraph; ``notes``, one paragraph each.
    ``empty`` is printed when there is nothing else (or instead of a table without
    rows)."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str]] = ()
    widths: Sequence[float] = ()
    texts: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = ()
    empty: str = "None."


@dataclass(frozen=True)
class Document:
    title: str
    running_header: str
    facility: str
    generated: str
    sections: Sequence[Section] = field(default_factory=tuple)
    banner: str | None = None
    subject: str = ""


def cells(row: Any) -> tuple[str, ...]:
    """A row dataclass's values, in field order (a table row)."""
    return tuple(getattr(row, f.name) for f in fields(row))


def _section(s: Styles, section: Section) -> list[Flowable]:
    story: list[Flowable] = [CondPageBreak(HEADING_ROOM), paragraph(s, section.title, s.heading)]
    if section.facts:
        story.append(table(s, section.facts, [FACT_LABEL_MM, CONTENT_WIDTH_MM - FACT_LABEL_MM],
                           style=s.body))
    if section.header:
        if section.rows:
            widths = list(section.widths) or \
                [CONTENT_WIDTH_MM / len(section.header)] * len(section.header)
            story.append(table(s, section.rows, widths, header=section.header))
        else:
            story.append(paragraph(s, section.empty))
    for label, text in section.texts:
        story += [CondPageBreak(LABEL_ROOM), paragraph(s, label, s.label), paragraph(s, text)]
    story += [paragraph(s, note) for note in section.notes]
    if not (section.facts or section.header or section.texts or section.notes):
        story.append(paragraph(s, section.empty))
    return story


def document_pdf(document: Document) -> bytes:
    """The document as PDF bytes on the paged canvas."""
    s = styles()
    story: list[Flowable] = [paragraph(s, document.title, s.title),
                             paragraph(s, document.facility, s.small),
                             paragraph(s, f"Generated {document.generated}", s.small)]
    if document.banner:
        story.append(paragraph(s, document.banner, s.banner))
    for section in document.sections:
        story += _section(s, section)
    story.append(Spacer(1, 3 * mm))
    return build_pdf(story, fonts=s.fonts, header=s.clean(document.running_header),
                     footer=s.clean(f"{document.title} · generated {document.generated}"),
                     title=document.title, subject=document.subject, author=document.facility)
