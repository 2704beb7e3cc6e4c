"""Check a batch's audit bundle offline (SPEC §8)::

    python -m lims.audit.verify_bundle bundle.json --public-key ed25519:…
    python -m lims.audit.verify_bundle bundle.json --public-key audit-public-key.txt

No server, no database, no configuration: it reads the file, recomputes every audit
entry's hash, compares the records with their newest audited values, recomputes the
bundle digest (:mod:`lims.audit.bundle`) and verifies the bundle's Ed25519 signature
with the public key given (``flask lims audit-public-key`` prints it; a file may list
several, one per line, ``#`` starts a comment). The key must come from outside the
bundle: whoever edits a bundle can recompute every hash in it, but cannot sign it.

Exit status: 0 intact and signed by a given key; 1 naming the first problem; 2 when the
bundle or a key cannot be read; 3 when the bundle is consistent but no public key was
given, so its authenticity was not checked (never 0: a script must not take that for
a pass).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from lims.audit.bundle import first_problem, signature_problem
from lims.audit.chain import KEY_PREFIX, parse_public_key

NOT_AUTHENTICATED = 3


def _public_keys(values: list[str]) -> list[Ed25519PublicKey]:
    keys = []
    for value in values:
        if value.strip().startswith(KEY_PREFIX):
            lines = [value]
        else:
            lines = Path(value).read_text(encoding="utf-8").splitlines()
        for line in lines:
            text = line.split("#", 1)[0].strip()
            if text:
                keys.append(parse_public_key(text))
    if values and not keys:
        raise ValueError("no public key found")
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lims.audit.verify_bundle",
        description="Check an exported audit bundle offline.")
    parser.add_argument("bundle", help="the bundle (JSON) exported by the server")
    parser.add_argument("--public-key", action="append", default=[], metavar="KEY_OR_FILE",
                        help="the audit signing key's public key (ed25519:…) or a file "
                             "holding it; repeatable (earlier keys for older bundles)")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    try:
        with open(args.bundle, encoding="utf-8") as file:
            bundle = json.load(file)
    except (OSError, ValueError) as error:
        print(f"cannot read {args.bundle}: {error}", file=sys.stderr)
        return 2
    try:
        keys = _public_keys(args.public_key)
    except (OSError, ValueError) as error:
        print(f"cannot read the public key: {error}", file=sys.stderr)
        return 2
    problem = first_problem(bundle)
    if problem is None and keys:
        problem = signature_problem(bundle, keys)
    if problem:
        print(f"BROKEN: {problem}")
        return 1
    entries = bundle["audit"]["entries"]
    records = sum(len(rows) for rows in bundle["records"].values())
    summary = (f"batch {bundle.get('batch', {}).get('batch_number')}: {len(entries)} audit "
               f"entries and {records} records check out; digest {bundle['digest']['value']}")
    if not keys:
        print(f"NOT AUTHENTICATED: {summary}; but no --public-key was given, so the "
              "signature was not checked and anyone could have recomputed these hashes")
        return NOT_AUTHENTICATED
    print(f"INTACT: {summary}; signed by audit key {bundle['signature']['key_id']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
