"""The audit signing key: an Ed25519 key kept outside the database (SPEC §8).

Files, all in the key's folder (the instance folder unless ``LIMS_AUDIT_KEY_FILE``
names the key file elsewhere):

- the private key (PKCS #8 PEM, mode 0600), generated on first run when missing;
  a key file readable or writable by group or others is refused;
- ``audit_retired_keys.json``: the public keys of earlier keys, each with the last
  seq it signed, so checkpoints signed before a rotation stay verifiable (and a
  retired key cannot sign anything newer);
- ``audit_checkpoint.json``: the newest checkpoint, mirrored after each commit that
  wrote one (:mod:`lims.audit.checkpoints`).

No Flask and no database here: plain functions over paths.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from lims.audit.chain import key_id, parse_public_key, public_key_text

log = logging.getLogger(__name__)

RETIRED_FILE = "audit_retired_keys.json"
MIRROR_FILE = "audit_checkpoint.json"


class KeyFileError(RuntimeError):
    """The key file cannot be used (unreadable, not an Ed25519 key, too open)."""


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    @property
    def public_text(self) -> str:
        return public_key_text(self.public)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode("ascii")


@dataclass(frozen=True)
class TrustedKey:
    """A public key checkpoints may be signed with; ``last_seq`` bounds a retired key."""

    key_id: str
    public: Ed25519PublicKey
    last_seq: int | None = None

    @property
    def public_text(self) -> str:
        return public_key_text(self.public)


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_private_key(path: Path, key: Ed25519PrivateKey, *, replace: bool = False) -> None:
    """Write ``key`` to ``path`` with mode 0600 (atomically when replacing)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not replace:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_pem(key))
            handle.flush()
            os.fsync(handle.fileno())
        return
    _atomic_write(path, _pem(key))


def load_or_create(path: Path) -> SigningKey:
    """The signing key in ``path``, generated (mode 0600) when the file does not exist."""
    if not path.exists():
        try:
            write_private_key(path, Ed25519PrivateKey.generate())
            log.warning("generated a new audit signing key in %s: back it up (README, "
                        "'Audit trail')", path)
        except FileExistsError:  # another process generated it meanwhile
            pass
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"the audit signing key {path} is readable by others (mode "
                           f"{mode:04o}): chmod 600 it (and the folder 700)")
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as problem:
        raise KeyFileError(f"cannot read the audit signing key {path}: {problem}") from problem
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds no Ed25519 private key")
    return SigningKey(private, path)


def retired_keys(folder: Path) -> list[TrustedKey]:
    """The retired public keys listed next to the key (none when the file is missing)."""
    path = folder / RETIRED_FILE
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [TrustedKey(item["key_id"], parse_public_key(item["public_key"]),
                           int(item["last_seq"])) for item in data["keys"]]
    except (OSError, ValueError, KeyError, TypeError) as problem:
        raise KeyFileError(f"cannot read the retired audit keys {path}: {problem}") from problem


def trusted_keys(signing: SigningKey) -> dict[str, TrustedKey]:
    """The current key and every retired one, by key id."""
    keys = {key.key_id: key for key in retired_keys(signing.folder)}
    keys[signing.key_id] = TrustedKey(signing.key_id, signing.public)
    return keys


def retire(signing: SigningKey, last_seq: int, retired_at: str) -> None:
    """Add the current key's public half to the retired keys, valid up to ``last_seq``."""
    path = signing.folder / RETIRED_FILE
    data: dict[str, Any] = {"keys": []}
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    if not any(item["key_id"] == signing.key_id for item in data["keys"]):
        data["keys"].append({"key_id": signing.key_id, "public_key": signing.public_text,
                             "last_seq": last_seq, "retired_at": retired_at})
    _atomic_write(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def _atomic_write(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``.lock (several processes write the mirror)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover — not POSIX: no lock
        yield
        return
    fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_mirror(folder: Path) -> dict[str, Any] | None:
    """The mirrored newest checkpoint, or None when there is none (``ValueError`` when the
    file exists but is not a checkpoint)."""
    path = folder / MIRROR_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    types = {"id": int, "seq": int, "hash": str, "created_at": str, "key_id": str,
             "signature": str}
    if not isinstance(data, dict) or not all(isinstance(data.get(name), kind)
                                             for name, kind in types.items()):
        raise ValueError(f"{path} is not a mirrored audit checkpoint")
    return data


def write_mirror(folder: Path, checkpoint: dict[str, Any]) -> bool:
    """Mirror ``checkpoint`` unless the file already holds a newer one; True if written."""
    path = folder / MIRROR_FILE
    with _locked(path):
        try:
            current = read_mirror(folder)
        except ValueError:
            current = None
        if current is not None and (current["seq"], current["id"]) >= (checkpoint["seq"],
                                                                      checkpoint["id"]):
            return False
        _atomic_write(path, (json.dumps(checkpoint, indent=1) + "\n").encode("utf-8"))
        os.chmod(path, 0o600)
    return True
