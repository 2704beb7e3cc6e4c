"""The shared fixtures live in the :mod:`tests.fixtures` plugins, registered here once."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.users",
    "tests.fixtures.lab",
    "tests.fixtures.qc",
    "tests.fixtures.records",
]
