"""Check a batch's audit bundle offline: ``python -m lims.audit.verify_bundle bundle.json``.

No server, no database, no configuration: it reads the file, recomputes every
audit entry's hash, compares the records with their newest audited values and
recomputes the bundle digest (:mod:`lims.audit.bundle`). Exit status 0 when the
bundle is intact, 1 naming the first problem, 2 when the file cannot be read.
"""

from __future__ import annotations

import json
import sys

from lims.audit.bundle import first_problem


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: python -m lims.audit.verify_bundle BUNDLE.json", file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as file:
            bundle = json.load(file)
    except (OSError, ValueError) as problem:
        print(f"cannot read {args[0]}: {problem}", file=sys.stderr)
        return 2
    found = first_problem(bundle)
    if found:
        print(f"BROKEN: {found}")
        return 1
    entries = bundle["audit"]["entries"]
    records = sum(len(rows) for rows in bundle["records"].values())
    print(f"INTACT: batch {bundle.get('batch', {}).get('batch_number')}: {len(entries)} audit "
          f"entries and {records} records check out; digest {bundle['digest']['value']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
