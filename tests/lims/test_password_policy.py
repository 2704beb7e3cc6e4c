"""The password rules as a pure module (SPEC §8 accounts; NIST SP 800-63B 5.1.1.2)."""

from __future__ import annotations

import pytest

from lims.auth import password_policy as policy
from tests.fixtures.users import TEST_PASSWORD


def rules(password: str, username: str | None = "quinn") -> list[str]:
    return [v.rule for v in policy.violations(password, username)]


def test_the_shipped_list_holds_at_least_ten_thousand_passwords():
    listed = policy.common_passwords()
    assert len(listed) >= 10_000
    assert {"password", "12345678", "qwerty123456", "1q2w3e4r5t6y"} <= listed
    assert policy.COMMON_LIST.with_name("COMMON-PASSWORDS-NOTICE.txt").exists()


@pytest.mark.parametrize("password", ["password", "12345678", " " * 8])
def test_the_passwords_the_review_found_accepted_are_refused(password):
    assert "min_length" in rules(password)


def test_twelve_characters_at_least():
    assert rules("abcdefghijk") == ["min_length"]
    assert rules("abcdefghijkl") == []
    assert rules("x" * 257) == ["max_length", "repetitive"]


def test_not_the_username_whatever_the_case():
    assert rules("Quinn.Quality", username="quinn.quality") == ["username"]
    assert rules("quinn.quality.", username="quinn.quality") == []


def test_common_and_breached_passwords_are_refused_also_with_a_suffix():
    assert rules("qwerty123456") == ["common"]
    assert rules("QWERTY123456") == ["common"]
    assert rules("Password2024!") == ["common"]
    assert rules("iloveyou123456") == ["common"]


def test_repetitive_passwords_are_refused():
    assert rules(" " * 12) == ["repetitive"]
    assert rules("abababababab") == ["repetitive"]


def test_every_broken_rule_is_named():
    assert rules("quinn", username="quinn") == ["min_length", "username"]


@pytest.mark.parametrize("password", [TEST_PASSWORD, "long-enough-1", "bench-pass-1",
                                      "demo-password-1", "a long passphrase with spaces"])
def test_the_passwords_the_project_uses_pass(password):
    assert rules(password) == []
