"""Run every benchmark of issue 7 and print one summary table.

    .venv/bin/python benchmarks/run_all.py            # full sizes (about 10 minutes)
    .venv/bin/python benchmarks/run_all.py --quick    # small sizes, a smoke run
    .venv/bin/python benchmarks/run_all.py --only lookup labels

Each benchmark also prints its own table as it finishes; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import traceback

import audit_verify
import custody_report
import event_logging
import label_sheet
import lookup
import sweep
from common import DEFAULT_URL, Result, print_results


def sweep_results(argv: list[str]) -> list[Result]:
    sweep.main(argv)
    rows = {name: seconds for name, seconds, _ in sweep.LAST_REPORT}
    bare = rows["bare"]
    second = rows["second sweep (idempotent)"]
    steps = next(notes for name, _, notes in sweep.LAST_REPORT if name.startswith("sweep's"))
    return [Result("scheduler sweep (repeat) vs bare SQL", second, bare, "s", second / bare,
                   "≤ 2", second / bare <= 2, f"cause query alone "
                   f"{rows[next(k for k in rows if k.startswith('sweep'))]:.3f} s; {steps}")]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    ram = int(next(line.split()[1] for line in open("/proc/meminfo")
                   if line.startswith("MemTotal"))) / 2**20
    try:
        pg = subprocess.run(["psql", "-At", "-c", "SHOW server_version", DEFAULT_URL],
                            capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        pg = "?"
    return (f"{os.cpu_count()} CPUs ({cpu}), {ram:.0f} GiB RAM, PostgreSQL {pg}, "
            f"Python {platform.python_version()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+")
    args = parser.parse_args(argv)
    url = ["--url", args.url]
    quick = args.quick
    plan = [
        ("event_logging", lambda: event_logging.run(event_logging.parser().parse_args(
            url + (["--seconds", "4", "--batches", "4"] if quick else [])))),
        ("lookup", lambda: lookup.run(lookup.parser().parse_args(
            url + (["--small", "1000", "--large", "20000", "--requests", "500"]
                   if quick else [])))),
        ("sweep", lambda: sweep_results(url + (["--batches", "10000"] if quick else []))),
        ("labels", lambda: label_sheet.run(label_sheet.parser().parse_args(
            ["--labels", "200"] if quick else []))),
        ("custody_report", lambda: custody_report.run(custody_report.parser().parse_args(url))),
        ("audit_verify", lambda: audit_verify.run(audit_verify.parser().parse_args(
            url + (["--sizes", "10000", "50000"] if quick else [])))),
    ]
    results: list[Result] = []
    for name, run in plan:
        if args.only and name not in args.only:
            continue
        print(f"== {name}", file=sys.stderr)
        try:
            results += run()
        except Exception:  # noqa: BLE001 (one failing benchmark must not hide the others)
            traceback.print_exc()
            results.append(Result(name, float("nan"), float("nan"), "", float("nan"), "", False,
                                  "FAILED, see stderr"))
    print_results(f"Summary — {machine()}", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
