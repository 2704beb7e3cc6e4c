"""The shared fixtures live in the :mod:`tests.fixtures` plugins, registered here once
(a module before the ones that import it, so pytest can rewrite its asserts)."""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.app",
    "tests.fixtures.users",
    "tests.fixtures.records",
    "tests.fixtures.lab",
    "tests.fixtures.qc",
    "tests.fixtures.release",
]
