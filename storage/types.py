"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.types import TypeDecorator

from storage.crypto import current_keyring, decrypt, encrypt, is_encrypted


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite otherwise hands back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedString(TypeDecorator[str]):
    """A string sealed with the data key on the way in (``storage.crypto``), opened on the way out.

    Equality queries on this column cannot work (every write has a fresh nonce): look rows up
    by a blind index column instead.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or is_encrypted(value):
            return value
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(value)


# The one key of a sealed JSON value: ``{"sealed": "enc1:…"}``. A plain payload never has only
# this key, so rows written before a key was set still read back as they were.
_SEALED = "sealed"


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value sealed whole with the data key when one is set (``storage.crypto``).

    Inbox and outbox payloads quote what people typed (phones, emails, names). Stored as
    ``{"sealed": ciphertext}`` so the column stays valid JSON on both databases; nothing
    queries inside these payloads, so sealing them costs no lookup.
    """

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        # Empty values stay plain (nothing to hide), so pruned rows can be found by SQL.
        if not value or not current_keyring().enabled:
            return value
        return {_SEALED: encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))}

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_SEALED), str):
            return json.loads(decrypt(value[_SEALED]))
        return value


class EncryptedText(EncryptedString):
    """Free text (reasons, notes) sealed like :class:`EncryptedString`, without a length."""

    impl = Text
    cache_ok = True
