"""The labels tests register records through the API with the batches tests' ``lab``."""

from tests.batches.conftest import admin, lab, qa, tech  # noqa: F401  (fixtures)
from tests.qc.conftest import qlab, reviewer, signer  # noqa: F401,E402  (fixtures)
