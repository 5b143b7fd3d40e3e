"""The replay guard HTTP-mode callbacks share across replicas: a row per signature seen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from storage.db import SessionFactory, session_scope
from storage.repo.callback_signatures import claim_signature


def signature_guard(
    factory: SessionFactory, platform: str, clock: Callable[[], datetime]
) -> Callable[[str, str, datetime], Awaitable[bool]]:
    """``(signature key, body digest, expires at) -> first use or a retry of the same body``."""

    async def guard(signature: str, body_digest: str, expires_at: datetime) -> bool:
        async with session_scope(factory) as session:
            return await claim_signature(
                session=session, platform=platform, signature=signature,
                body_digest=body_digest, expires_at=expires_at, now=clock(),
            )

    return guard
