"""Run mypy (settings in setup.cfg ``[mypy]``) against the committed baseline.

``make lint`` runs this. The baseline (``mypy-baseline.txt``) lists the errors
that are known and still to be fixed, one per line as ``path: message [code]``
(no line numbers, so edits elsewhere in a file do not disturb it). It can only
shrink:

* an error that is not in the baseline fails the check (fix it; do not add it);
* a baseline entry that mypy no longer reports fails the check too, so a fix
  also removes its line: ``python tools/typecheck.py --shrink`` deletes the
  entries that are gone (it never adds one).

Exit status: 0 when mypy's errors are exactly the baseline, 1 otherwise.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+)(?::\d+)?: error: (?P<message>.*)$")


def run_mypy() -> tuple[list[str], Counter[str]]:
    """mypy's error lines as printed, and the same errors keyed without line numbers."""
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-color-output",
                           "--no-error-summary"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    if done.returncode not in (0, 1):  # 2: mypy itself failed (bad config, crash)
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(2)
    lines = [line for line in done.stdout.splitlines() if ERROR.match(line)]
    return lines, Counter(_key(line) for line in lines)


def _key(line: str) -> str:
    match = ERROR.match(line)
    assert match is not None
    return f"{match['path']}: {match['message']}"


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    return Counter(line.strip() for line in BASELINE.read_text(encoding="utf-8").splitlines()
                   if line.strip() and not line.startswith("#"))


def write_baseline(entries: Counter[str]) -> None:
    header = ("# mypy errors still to fix (tools/typecheck.py). This list only shrinks:\n"
              "# never add a line; fix the error instead.\n")
    BASELINE.write_text(header + "".join(f"{key}\n" for key in sorted(entries.elements())),
                        encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shrink", action="store_true",
                        help="delete the baseline entries mypy no longer reports")
    args = parser.parse_args(argv)
    lines, found = run_mypy()
    baseline = read_baseline()
    new, gone = found - baseline, baseline - found
    if args.shrink and gone:
        write_baseline(baseline - gone)
        print(f"mypy baseline: removed {sum(gone.values())} fixed entries")
        baseline, gone = baseline - gone, Counter()
    if new:
        print("mypy: errors not in the baseline (fix them; the baseline only shrinks):")
        for line in lines:
            if _key(line) in new:
                print(f"  {line}")
    if gone:
        print("mypy: fixed, so delete from mypy-baseline.txt "
              "(or run `python tools/typecheck.py --shrink`):")
        for key in sorted(gone.elements()):
            print(f"  {key}")
    if new or gone:
        return 1
    print(f"mypy: no new errors ({sum(baseline.values())} known in mypy-baseline.txt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
