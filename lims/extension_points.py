"""How feature packages plug into the core without the core importing them.

Each feature package's ``init_app(app)`` registers its navigation entries,
dashboard panels, page sections, scan resolvers and demo-data seeders here; the core
reads them. (The app factory is the only place that knows every package.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[str] = frozenset()  # empty: every role
    order: int = 100


@dataclass(frozen=True)
class ScanHit:
    """What a scanned code resolved to: ``type`` is collection, batch, dose…"""

    type: str
    id: int
    url: str | None = None
    label: str = ""


Resolver = Callable[[str], ScanHit | None]
Panel = Callable[[Any], str | None]  # user -> rendered HTML or None
Seeder = Callable[[], None]
SweepTask = Callable[[Any], dict]  # now (aware UTC) -> a small report
LinkBuilder = Callable[[str], str | None]  # entity id -> URL of its page
Section = str | Callable[[dict[str, Any]], str | None]  # template, or page context -> HTML


@dataclass
class ExtensionPoints:
    nav: list[NavItem] = field(default_factory=list)
    resolvers: list[Resolver] = field(default_factory=list)
    panels: list[tuple[int, Panel]] = field(default_factory=list)
    seeders: list[tuple[int, Seeder]] = field(default_factory=list)
    sweep_tasks: list[tuple[int, str, SweepTask]] = field(default_factory=list)
    links: dict[str, LinkBuilder] = field(default_factory=dict)
    sections: dict[str, list[tuple[int, Section]]] = field(default_factory=dict)


def points(app: Flask | None = None) -> ExtensionPoints:
    app = app or current_app
    return app.extensions.setdefault("lims_points", ExtensionPoints())


def add_nav(app: Flask, item: NavItem) -> None:
    points(app).nav.append(item)
    points(app).nav.sort(key=lambda i: i.order)


def add_resolver(app: Flask, resolver: Resolver) -> None:
    points(app).resolvers.append(resolver)


def add_panel(app: Flask, panel: Panel, order: int = 100) -> None:
    points(app).panels.append((order, panel))
    points(app).panels.sort(key=lambda p: p[0])


def add_seeder(app: Flask, seeder: Seeder, order: int = 100) -> None:
    points(app).seeders.append((order, seeder))
    points(app).seeders.sort(key=lambda s: s[0])


def add_sweep_task(app: Flask, name: str, task: SweepTask, order: int = 100) -> None:
    """A job of the scheduler's sweep (SPEC §4), defined in a feature's ``tasks.py``."""
    points(app).sweep_tasks.append((order, name, task))
    points(app).sweep_tasks.sort(key=lambda t: t[0])


def add_link(app: Flask, entity_type: str, builder: LinkBuilder) -> None:
    """How to link to an entity's page (alerts and audit views use it)."""
    points(app).links[entity_type] = builder


def add_section(app: Flask, page: str, section: Section, order: int = 100) -> None:
    """Add a section to another package's page, e.g. the label buttons on the dose page.

    ``page`` names the place (by convention the page's endpoint, ``"batches.dose_page"``);
    the page's template shows its sections with ``{{ page_sections("batches.dose_page") }}``.
    ``section`` is a template rendered with the page's context, or a callable taking that
    context and returning HTML (``None``: nothing to show). Lower ``order`` comes first.
    """
    sections = points(app).sections.setdefault(page, [])
    sections.append((order, section))
    sections.sort(key=lambda s: s[0])


@pass_context
def page_sections(context: Context, page: str) -> Markup:
    """The sections registered for ``page``, rendered with the page's context (a template
    global, see :func:`add_section`)."""
    values = context.get_all()
    html = []
    for _order, section in points().sections.get(page, []):
        if isinstance(section, str):
            html.append(context.environment.get_template(section).render(values))
        elif (rendered := section(values)) is not None:
            html.append(rendered)
    return Markup("\n".join(html))  # noqa: S704 — rendered templates, sections' own HTML


def entity_url(entity_type: str, entity_id: Any) -> str | None:
    builder = points().links.get(entity_type)
    return builder(str(entity_id)) if builder and entity_id is not None else None


def resolve_scan(code: str) -> ScanHit | None:
    """Resolve scanned text with every registered resolver; the first hit wins."""
    text = code.strip()
    if not text:
        return None
    for resolver in points().resolvers:
        hit = resolver(text)
        if hit is not None:
            return hit
    return None
