"""Card instance ids (``outTrackId``): deterministic from our card key, and reversible.

DingTalk identifies an interactive card by the ``outTrackId`` we choose when creating it,
reuses it for updates, and echoes it in every card callback. We derive it from the card key
*and* the space it goes to, so the same card key sent to two people makes two instances
(reusing an ``outTrackId`` means "the same card"), and a resend after a crash makes none
(``param.cardAlreadyExist``). The key part can be read back from a callback.

Source: https://open.dingtalk.com/document/development/create-and-deliver-cards
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

# Keys made of these characters are embedded as they are (readable in DingTalk's logs);
# anything else is base64url-encoded. Neither form contains ".", the digest separator.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DIGEST_LEN = 12


def _digest(space: str, target: str) -> str:
    return hashlib.sha256(f"{space}:{target}".encode()).hexdigest()[:_DIGEST_LEN]


def out_track_id(card_key: str, space: str, target: str) -> str:
    """The ``outTrackId`` of the card ``card_key`` shown in ``space`` to ``target``.

    Args:
        card_key: Our card key (``Card.key``), e.g. ``"r12v3-review_task"``.
        space: ``"IM_ROBOT"`` or ``"IM_GROUP"``.
        target: userId (``IM_ROBOT``) or openConversationId (``IM_GROUP``).

    Returns:
        ``k-<key>.<digest>`` for plain keys, ``x-<base64url key>.<digest>`` otherwise.

    Raises:
        ValueError: ``card_key`` is empty.
    """
    if not card_key:
        raise ValueError("card_key is required")
    if _PLAIN_KEY.fullmatch(card_key):
        body = f"k-{card_key}"
    else:
        encoded = base64.urlsafe_b64encode(card_key.encode()).decode().rstrip("=")
        body = f"x-{encoded}"
    return f"{body}.{_digest(space, target)}"


def keyless_out_track_id(idempotency_key: str) -> str:
    """``outTrackId`` for a card without a key: unique per outbox row, so resends are no-ops."""
    return "o-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def card_key_of(out_track_id_value: str | None) -> str | None:
    """The card key embedded in an ``outTrackId`` made by :func:`out_track_id`, else None."""
    if not out_track_id_value:
        return None
    body, dot, digest = out_track_id_value.rpartition(".")
    if not dot or len(digest) != _DIGEST_LEN:
        return None
    if body.startswith("k-"):
        key = body[2:]
        return key if _PLAIN_KEY.fullmatch(key) else None
    if body.startswith("x-"):
        encoded = body[2:]
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            return raw.decode() or None
        except (binascii.Error, ValueError):
            return None
    return None
