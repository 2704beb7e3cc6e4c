"""The password rules of SPEC §8 (NIST SP 800-63B §5.1.1.2), as a pure module.

No Flask, no database: :func:`violations` takes the candidate and the facts it is checked
against and returns every rule it breaks, so the service can name them all in one 400.
The reuse rule (not one of the last five) needs the stored hashes; the service checks it
with :data:`REUSED` as its rule code.

The list of common or breached passwords is ``data/common-passwords.txt.gz`` (see
``data/COMMON-PASSWORDS-NOTICE.txt`` for its source and licence), read once per process.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 4
HISTORY = 5
"""A new password may not be any of the user's last five (the current one included)."""

COMMON_LIST = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"

TOO_SHORT = "min_length"
TOO_LONG = "max_length"
USERNAME = "username"
COMMON = "common"
REPETITIVE = "repetitive"
REUSED = "reused"

MESSAGES = {
    TOO_SHORT: f"at least {MIN_LENGTH} characters",
    TOO_LONG: f"at most {MAX_LENGTH} characters",
    USERNAME: "may not be the username",
    COMMON: "is on the list of common or breached passwords",
    REPETITIVE: f"needs at least {MIN_DISTINCT_CHARACTERS} different characters",
    REUSED: f"may not be one of your last {HISTORY} passwords",
}

_TRAILING_DIGITS_AND_PUNCTUATION = re.compile(r"[\d\W_]+$")


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lowercased (read once per process)."""
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip() for line in handle if line.strip())


def is_common(password: str) -> bool:
    """On the list as typed (case ignored), or once trailing digits and punctuation are
    taken off ("Password2024!", "qwertyuiop123")."""
    lowered = password.strip().lower()
    stem = _TRAILING_DIGITS_AND_PUNCTUATION.sub("", lowered)
    listed = common_passwords()
    return lowered in listed or (len(stem) >= 6 and stem in listed)


def violations(password: str, username: str | None = None) -> list[Violation]:
    """Every rule ``password`` breaks (empty when it is acceptable)."""
    found = []
    if len(password) < MIN_LENGTH:
        found.append(TOO_SHORT)
    if len(password) > MAX_LENGTH:
        found.append(TOO_LONG)
    if username and password.strip().casefold() == username.strip().casefold():
        found.append(USERNAME)
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        found.append(REPETITIVE)
    if is_common(password):
        found.append(COMMON)
    return [Violation(rule, MESSAGES[rule]) for rule in found]


def describe() -> list[str]:
    """The rules, for the pages that ask for a new password."""
    return [f"At least {MIN_LENGTH} characters (spaces count; a passphrase is welcome).",
            "Not your username, and not a common or breached password.",
            f"Not one of your last {HISTORY} passwords."]
