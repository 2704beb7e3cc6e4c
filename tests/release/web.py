"""Helpers for the web tests of SPEC §3b's pages: post a page's form as a browser does
(with the page's CSRF token), and read what the page shows."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from tests.fixtures.users import csrf_token


def post_form(client, path: str, data: dict[str, Any], *, page: str | None = None):
    """POST ``data`` to ``path`` with the CSRF token of ``page`` (a page showing the form;
    the dashboard by default)."""
    token = csrf_token(client, page or "/")
    return client.post(path, data={"csrf_token": token, **data})


def text(response) -> str:
    """The page as text: tags out, entities decoded, white space collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def element(response, element_id: str) -> str:
    """The opening tag of the element with ``element_id`` (to read its attributes)."""
    html = response.get_data(as_text=True)
    match = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no element #{element_id}"
    return match.group(0)
