"""The labels tests register records through the API with the batches tests' ``lab``."""

from tests.batches.conftest import admin, lab, qa, tech  # noqa: F401  (fixtures)
