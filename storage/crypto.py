"""Encryption at rest of candidates' contact data, and the blind index that finds them.

Keys come from ``HRBOT_DATA_KEY``: one base64 32-byte key, or a keyring ``kid:key,kid:key``
whose first entry encrypts and all entries decrypt (rotation: put the new key first, run
``hrbot gdpr rekey``, then drop the old one). Without a key (dev, sandbox, tests) values are
stored as plaintext; a value written encrypted is never readable without its key.

Ciphertext: ``enc1:<kid>:<base64(nonce ‖ AES-GCM ciphertext+tag)>``. Equality lookups go through
``blind_indexes`` (HMAC-SHA256), never through the ciphertext, which differs on every write.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ENV_KEY", "DataKeyError", "Keyring", "blind_index", "blind_indexes", "current_keyring",
    "decrypt", "encrypt", "is_encrypted", "parse_keyring", "use_keyring",
]

ENV_KEY = "HRBOT_DATA_KEY"
_PREFIX = "enc1:"
# Plaintext deployments still index contacts, so switching encryption on later finds old rows.
_PLAIN_INDEX_KEY = b"hrbot-plaintext-blind-index"
_log = logging.getLogger("hrbot.storage")


class DataKeyError(ValueError):
    """A key is malformed, or a ciphertext names a key the keyring does not hold."""


@dataclass(frozen=True)
class Keyring:
    """Data keys by id, newest first; empty means plaintext storage."""

    keys: tuple[tuple[str, bytes], ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def index_keys(self) -> list[bytes]:
        # One index key per data key (derived, so the data key itself never signs anything),
        # newest first, then the plaintext one for rows written before encryption was on.
        derived = [hmac.new(key, b"hrbot blind index", hashlib.sha256).digest()
                   for _, key in self.keys]
        return [*derived, _PLAIN_INDEX_KEY]


def parse_keyring(raw: str) -> Keyring:
    """``"key"`` or ``"kid:key,kid:key"`` (base64 32-byte keys) → a keyring.

    Raises:
        DataKeyError: a key is not base64 of exactly 32 bytes, or an id repeats.
    """
    entries: list[tuple[str, bytes]] = []
    for number, part in enumerate(p.strip() for p in raw.split(",") if p.strip()):
        kid, _, b64 = part.rpartition(":")
        kid = kid or f"k{number}"
        try:
            key = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as err:
            raise DataKeyError(f"{ENV_KEY}: key {kid!r} is not base64") from err
        if len(key) != 32:
            raise DataKeyError(f"{ENV_KEY}: key {kid!r} must be 32 bytes, got {len(key)}")
        if any(kid == k for k, _ in entries) or ":" in kid:
            raise DataKeyError(f"{ENV_KEY}: key id {kid!r} is repeated or malformed")
        entries.append((kid, key))
    return Keyring(tuple(entries))


_override: Keyring | None = None
_cache: tuple[str, Keyring] | None = None
_warned = False


def current_keyring(env: Mapping[str, str] | None = None) -> Keyring:
    """The keyring in force: one set by ``use_keyring``, else parsed from the environment."""
    global _cache, _warned
    if _override is not None:
        return _override
    raw = (env if env is not None else os.environ).get(ENV_KEY, "")
    if _cache is None or _cache[0] != raw:
        _cache = (raw, parse_keyring(raw))
    if not _cache[1].enabled and not _warned:
        _warned = True
        _log.warning("%s is not set: candidate contact data is stored unencrypted", ENV_KEY)
    return _cache[1]


@contextmanager
def use_keyring(ring: Keyring) -> Iterator[Keyring]:
    """Use ``ring`` instead of the environment's (tests, ``hrbot gdpr rekey``)."""
    global _override
    previous, _override = _override, ring
    try:
        yield ring
    finally:
        _override = previous


def is_encrypted(value: str) -> bool:
    return value.startswith(_PREFIX)


def encrypt(value: str, ring: Keyring | None = None) -> str:
    ring = ring or current_keyring()
    if not ring.enabled:
        return value
    kid, key = ring.keys[0]
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), kid.encode())
    return f"{_PREFIX}{kid}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(value: str, ring: Keyring | None = None) -> str:
    """Plaintext of ``value``; plaintext written before encryption was on passes through.

    Raises:
        DataKeyError: the key that sealed ``value`` is not in the keyring, or it was tampered with.
    """
    if not is_encrypted(value):
        return value
    ring = ring or current_keyring()
    kid, _, body = value[len(_PREFIX):].partition(":")
    key = dict(ring.keys).get(kid)
    if key is None:
        raise DataKeyError(f"no data key {kid!r} in {ENV_KEY}")
    raw = base64.b64decode(body)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], kid.encode()).decode()
    except Exception as err:  # InvalidTag carries no message worth keeping
        raise DataKeyError(f"ciphertext under key {kid!r} does not verify") from err


def blind_index(value: str, ring: Keyring | None = None) -> str:
    """The index of ``value`` under the newest key: what a new or updated row stores."""
    return blind_indexes(value, ring)[0]


def blind_indexes(value: str, ring: Keyring | None = None) -> list[str]:
    """The index of ``value`` under every key, newest first: what a lookup matches against."""
    ring = ring or current_keyring()
    return [hmac.new(k, value.encode(), hashlib.sha256).hexdigest()[:40]
            for k in ring.index_keys()]
