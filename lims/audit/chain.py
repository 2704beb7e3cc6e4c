"""The hash chain and its signed checkpoints as pure functions: no Flask, no database.

The offline bundle checker (:mod:`lims.audit.verify_bundle`) imports this module, so
it needs only the standard library, :mod:`lims.hashing` and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lims.hashing import canonical_json, sha256_hex, to_jsonable

_PLAIN = (int, str, type(None))
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class ChainRow(NamedTuple):
    """One entry of the chain as it is hashed: ``occurred_at`` an aware datetime or its
    canonical text (``2026-01-01T00:00:00.000000Z``). A tuple: ``audit-verify`` makes
    one per entry."""

    seq: int
    occurred_at: object
    actor_id: int | None
    actor_username: str
    action: str
    entity_type: str
    entity_id: str
    changes: str
    reason: str | None
    prev_hash: str
    hash: str = ""


def entry_hash(row: ChainRow) -> str:
    """SHA-256 over the entry's content and the previous entry's hash.

    The canonical JSON of the fields; when every field but the time is already a plain
    int, str or None (always, for rows read back), they are encoded as they are, which
    gives the same bytes as :func:`canonical_json` without walking them again (it is
    ``audit-verify``'s inner loop).
    """
    fields = [row.seq, to_jsonable(row.occurred_at), row.actor_id, row.actor_username,
              row.action, row.entity_type, row.entity_id, row.changes, row.reason,
              row.prev_hash]
    if all(type(value) in _PLAIN for value in fields):
        return hashlib.sha256(_encode(fields).encode("utf-8")).hexdigest()
    return sha256_hex(canonical_json(fields))


def stored_entry_hash(row: ChainRow) -> str:
    """:func:`entry_hash` of a row read back from the database with its time already
    spelled as the chain spells it (:func:`lims.hashing.utc_text`): every field is then a
    plain int, str or None by its column's type, so the canonical JSON is the encoding of
    the row's first ten fields as they are (``audit-verify``'s inner loop)."""
    try:
        return hashlib.sha256(_encode(row[:10]).encode("utf-8")).hexdigest()
    except TypeError:  # a value no column type gives (SQLite stores anything): tampered
        return entry_hash(row)


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


# ------------------------------------------------------------------ signing keys

KEY_PREFIX = "ed25519:"
CHECKPOINT_FORMAT = "cellbatch-lims/audit-checkpoint/1"


def public_key_text(key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the base64 of the raw 32-byte public key (one line, printable)."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def parse_public_key(text: str) -> Ed25519PublicKey:
    """The key :func:`public_key_text` wrote; ``ValueError`` for anything else."""
    text = text.strip()
    if not text.startswith(KEY_PREFIX):
        raise ValueError(f"a public key starts with {KEY_PREFIX!r}")
    try:
        raw = base64.b64decode(text[len(KEY_PREFIX):], validate=True)
    except (binascii.Error, ValueError) as problem:
        raise ValueError(f"the public key is not base64: {problem}") from problem
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Short name of a key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:16]


def signature_valid(key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def checkpoint_message(seq: int, head_hash: str, created_at: Any, signer: str) -> bytes:
    """The bytes a checkpoint's signature covers: format, seq, hash, time and key id."""
    return canonical_json([CHECKPOINT_FORMAT, seq, head_hash, to_jsonable(created_at),
                           signer]).encode("utf-8")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the chain's entry ``seq`` has hash ``hash``"."""

    id: int | None
    seq: int
    hash: str
    created_at: Any
    key_id: str
    signature: str
    source: str = "the database"

    @property
    def name(self) -> str:
        where = "" if self.source == "the database" else f", mirrored in {self.source}"
        return f"checkpoint #{self.id} (seq {self.seq}, signed {to_jsonable(self.created_at)}" \
               f"{where})"

    def message(self) -> bytes:
        return checkpoint_message(self.seq, self.hash, self.created_at, self.key_id)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "seq": self.seq, "hash": self.hash,
                "created_at": to_jsonable(self.created_at), "key_id": self.key_id,
                "signature": self.signature}


# ------------------------------------------------------------------ verification

SignatureCheck = Callable[[Checkpoint], "str | None"]


def first_break(rows: Iterable[ChainRow], genesis: str, head_seq: int | None,
                head_hash: str | None, checkpoints: Iterable[Checkpoint] = (),
                check_signature: SignatureCheck | None = None,
                hasher: Callable[[ChainRow], str] = entry_hash) -> tuple[int, Break | None]:
    """Walk rows in ``seq`` order; return (rows checked, first break or None).

    Detects an altered row (its hash no longer matches its content), a removed
    row (a gap in ``seq`` or a ``prev_hash`` that points elsewhere), reordered
    rows (links out of order), a head that does not match the chain's end, and,
    against the signed ``checkpoints`` (in ``seq`` order; ``check_signature``
    names a bad signature): a trail rewritten and re-chained (an entry's hash no
    longer equals the signed one), entries removed from the end or every entry
    removed (the chain stops before a checkpoint).
    """
    expected_seq, prev_hash, count = 1, genesis, 0
    pending = _Checkpoints(iter(checkpoints), check_signature)
    broken = pending.reach(0, genesis)
    if broken:
        return count, broken
    due = pending.due  # the seq of the next checkpoint (the loop is audit-verify's)
    for row in rows:
        count += 1
        seq = row.seq
        if seq != expected_seq:
            return count, Break(seq, f"sequence jumps from {expected_seq - 1} to {seq}: "
                                     "an entry was removed or reordered")
        if row.prev_hash != prev_hash:
            return count, Break(seq, "does not link to the entry before it "
                                     "(removed, inserted or reordered entries)")
        prev_hash = row.hash
        if hasher(row) != prev_hash:
            return count, Break(seq, "content does not match its hash (altered entry)")
        if due is not None and seq >= due:
            broken = pending.reach(seq, prev_hash)
            if broken:
                return count, broken
            due = pending.due
        expected_seq += 1
    last = expected_seq - 1
    broken = pending.beyond(last)
    if broken:
        return count, broken
    if head_seq is None:
        if last or pending.seen:
            return count, Break(expected_seq, "the chain head row (audit_head) is missing: "
                                              "it was deleted")
        return count, None
    if head_seq > last:
        return count, Break(expected_seq, f"chain ends at seq {last} but the head records "
                                          f"seq {head_seq}: entries were removed from the end")
    if head_seq < last:
        return count, Break(head_seq + 1, f"the head records seq {head_seq}, behind the chain's "
                                          f"last entry seq {last}: the head was moved back")
    if head_hash != prev_hash:
        return count, Break(last, "the head's hash does not match the last entry's hash "
                                  "(the head or the last entry was altered)")
    return count, None


class _Checkpoints:
    """The checkpoints not yet reached while walking the chain."""

    def __init__(self, checkpoints: Iterator[Checkpoint],
                 check_signature: SignatureCheck | None) -> None:
        self._iter, self._check = checkpoints, check_signature
        self._next = next(self._iter, None)
        self.matched_seq = 0
        self.seen = 0

    def _signature(self, checkpoint: Checkpoint) -> Break | None:
        self.seen += 1
        problem = self._check(checkpoint) if self._check else None
        return Break(checkpoint.seq, f"{checkpoint.name}: {problem}") if problem else None

    @property
    def due(self) -> int | None:
        """The seq of the next checkpoint not yet reached (None: none left)."""
        return self._next.seq if self._next is not None else None

    def reach(self, seq: int, entry_hash_: str) -> Break | None:
        """Check every checkpoint of ``seq`` against the entry's hash."""
        while self._next is not None and self._next.seq <= seq:
            checkpoint, self._next = self._next, next(self._iter, None)
            broken = self._signature(checkpoint)
            if broken:
                return broken
            if checkpoint.seq < seq:  # only before the first entry: a negative seq
                return Break(checkpoint.seq, f"{checkpoint.name}: names no entry")
            if checkpoint.hash != entry_hash_:
                first = self.matched_seq + 1
                return Break(first, (
                    f"the trail was rewritten and re-chained: entry seq {seq}'s hash no longer "
                    f"matches the one signed in {checkpoint.name}; an entry between seq "
                    f"{first} and {seq} was altered, removed or inserted and the later hashes "
                    "recomputed"))
            self.matched_seq = seq
        return None

    def beyond(self, last: int) -> Break | None:
        """A checkpoint past the chain's end: entries removed from the end (or all)."""
        while self._next is not None:
            checkpoint, self._next = self._next, next(self._iter, None)
            broken = self._signature(checkpoint)
            if broken:
                return broken
            if last == 0:
                return Break(1, f"the trail is empty but {checkpoint.name} signed the head at "
                                f"seq {checkpoint.seq}: every entry was removed")
            return Break(last + 1, f"chain ends at seq {last} but {checkpoint.name} signed the "
                                   f"head at seq {checkpoint.seq}: entries were removed from "
                                   "the end")
        return None
