"""Send windows shared by every replica: the port adapters ask before a rate-limited send.

An adapter knows which documented limit a send counts against (WeCom: per member; DingTalk:
per API) and names it as a key with ``(count, seconds)`` limits; the database-backed window
counts every replica's sends, so the limit holds for the deployment, across restarts
(``bot.serve.send_windows.DatabaseSendWindow``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Limits = Sequence[tuple[int, float]]


class SendWindow(Protocol):
    async def try_acquire(self, key: str, limits: Limits) -> float | None:
        """Count one send for ``key``: None if allowed now, else seconds to wait."""
        ...
