"""Benchmark (issue 12): does a login answer take the same time whether or not the
username exists, and whatever the account's state? (SPEC §8 login)

    .venv/bin/python benchmarks/login_timing.py                  # scrypt, 15 tries each
    .venv/bin/python benchmarks/login_timing.py --method pbkdf2:sha256:600000 --tries 30

A scratch SQLite database in a temporary folder, the production password hash
(``--method``, default the app's ``scrypt``), one account per state; then
``POST /api/v1/auth/tokens`` is timed for each case through the WSGI app. Prints the
median and spread per case and the ratio of each median to the unknown-user median
(target: within 0.8–1.25; the tests prove the equal work by counting hash calls, this
only shows the wall-clock effect). Never run in the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "a-benchmark-passphrase-1"  # noqa: S105 — a scratch database's account


def _app(folder: str, method: str):
    from flask_migrate import upgrade

    from lims import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                      "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": method,
                      "SESSION_COOKIE_SECURE": False, "LOCKOUT_MINUTES": 10_000})
    with app.app_context():
        upgrade()
    return app


def _accounts(app) -> None:
    from lims.auth import services
    from lims.db import db

    with app.app_context():
        for name in ("usable", "locked", "inactive"):
            services.create_user(name, f"Bench {name}", "technician", PASSWORD, permanent=True)
        db.session.commit()
        services.update_user(services.find_user("inactive"), active=False, reason="bench")
        db.session.commit()
    client = app.test_client()
    for _ in range(app.config["MAX_FAILED_LOGINS"]):
        client.post("/api/v1/auth/tokens", json={"username": "locked", "password": "wrong-x"})


CASES = [
    ("unknown username", "nobody-here", "wrong-password-x"),
    ("wrong password", "usable", "wrong-password-x"),
    ("right password", "usable", PASSWORD),
    ("locked, right password", "locked", PASSWORD),
    ("locked, wrong password", "locked", "wrong-password-x"),
    ("inactive, wrong password", "inactive", "wrong-password-x"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="scrypt")
    parser.add_argument("--tries", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = _app(folder, args.method)
        _accounts(app)
        client = app.test_client()
        timings: dict[str, list[float]] = {name: [] for name, _u, _p in CASES}
        for _ in range(args.tries):  # interleaved, so drift hits every case alike
            for name, username, password in CASES:
                if name == "wrong password":  # keep "usable" below the lock
                    client.post("/api/v1/auth/tokens",
                                json={"username": "usable", "password": PASSWORD})
                start = time.perf_counter()
                client.post("/api/v1/auth/tokens",
                            json={"username": username, "password": password})
                timings[name].append(time.perf_counter() - start)
        from lims.db import db

        with app.app_context():
            db.engine.dispose()
    base = statistics.median(timings["unknown username"])
    print(f"\nlogin timing, {args.method}, {args.tries} tries per case")
    print(f"{'case':<28} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'÷ unknown':>10}  ok")
    worst = 1.0
    for name, values in timings.items():
        median = statistics.median(values)
        ratio = median / base
        worst = max(worst, ratio, 1 / ratio)
        ok = "yes" if 0.8 <= ratio <= 1.25 else "NO"
        print(f"{name:<28} {median * 1000:>10.1f} {min(values) * 1000:>8.1f} "
              f"{max(values) * 1000:>8.1f} {ratio:>10.2f}  {ok}")
    return 0 if worst <= 1.25 else 1


if __name__ == "__main__":
    sys.exit(main())
