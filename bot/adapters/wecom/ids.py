"""Template card ``task_id``: made from our card key, unique per message, and reversible.

WeCom requires a ``task_id`` for every interactive card, unique within the app, of
``[0-9A-Za-z_-@]`` and at most 128 bytes, and echoes it in each click callback (``TaskId``).
We derive it from the card key plus a digest of the recipient and the outbox row, so

* the same outbox row re-sent after a crash repeats the same JSON (WeCom's duplicate
  check drops it),
* the same card key shown twice (asked for progress twice, or an update that had to go
  as a new message) gets a new id, and
* the card key can be read back from a click without a database lookup.

Keys that do not fit get a hashed id; the adapter then finds the key through the stored
``CardInstance.platform_ref``.

Source: https://developer.work.weixin.qq.com/document/path/90236 (task_id rules)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

MAX_TASK_ID = 128
_DIGEST_LEN = 12
_SEP = "@"  # allowed in task ids, never produced by the key encodings below
_ROOM = MAX_TASK_ID - 2 - len(_SEP) - _DIGEST_LEN  # for the encoded key after "k-"/"x-"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _sha(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def make_task_id(card_key: str | None, recipient: str, idempotency_key: str) -> str:
    """The ``task_id`` for one card message.

    Args:
        card_key: ``Card.key``; None for keyless cards (their id is just a digest).
        recipient: The WeCom userid the card goes to.
        idempotency_key: The outbox row's key; a resend of the row repeats the id.

    Returns:
        ``k-<key>@<digest>`` (plain keys), ``x-<base64url key>@<digest>`` (other keys),
        ``h-<hash>@<digest>`` (keys too long to embed) or ``o-<hash>`` (no key).
    """
    digest = _sha(recipient, idempotency_key)[:_DIGEST_LEN]
    if not card_key:
        return f"o-{_sha('keyless', recipient, idempotency_key)[:32]}"
    if _PLAIN_KEY.fullmatch(card_key) and len(card_key) <= _ROOM:
        body = f"k-{card_key}"
    else:
        encoded = base64.urlsafe_b64encode(card_key.encode()).decode().rstrip("=")
        body = f"x-{encoded}" if len(encoded) <= _ROOM else f"h-{_sha(card_key)[:32]}"
    return f"{body}{_SEP}{digest}"


def card_key_of(task_id: str | None) -> str | None:
    """The card key embedded by :func:`make_task_id`; None when there is none to read."""
    if not task_id:
        return None
    body, sep, digest = task_id.rpartition(_SEP)
    if not sep or len(digest) != _DIGEST_LEN:
        return None
    if body.startswith("k-") and _PLAIN_KEY.fullmatch(body[2:]):
        return body[2:]
    if body.startswith("x-"):
        encoded = body[2:]
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, ValueError):
            return None
        return key or None
    return None
