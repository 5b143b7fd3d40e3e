"""What the launcher tells the sandbox: the org, the bot's credentials and where the bot is.

Credentials left as None are not checked (any value is accepted), so the sandbox can be
started on its own; the launcher passes the same values it gives the bot, so a bot that
sends the wrong ones fails here as it would in production.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sandbox.org import Group

# Called with (delta seconds, new total offset seconds) after the clock was advanced.
ClockHook = Callable[[float, float], Awaitable[None]]



class BotView(Protocol):
    """What the launcher lets the page know of the bot's schedule (the sandbox cannot ask the
    bot's database itself: it only speaks the platforms' protocols)."""

    async def upcoming(self, limit: int) -> list[dict[str, Any]]:
        """The next due items, soonest first: ``{"due_ms", "kind", "what", "who"}``."""
        ...

    def quiet_rule(self) -> str:
        """The bot's quiet hours in a few words, e.g. ``21:00–08:30，休息日全天``."""
        ...

    async def held_until(self, at: float) -> float | None:
        """When a message the bot sends at ``at`` (epoch seconds) really goes out, if later
        (quiet hours, days off); None when it goes out at once."""
        ...


DEFAULT_PEOPLE_CSV = Path(__file__).resolve().parent.parent / "bot" / "cli" / "demo" / "people.csv"


@dataclass
class SandboxSettings:
    """Settings of one sandbox server."""

    people_csv: Path | str = DEFAULT_PEOPLE_CSV
    groups: Sequence[Group] | None = None  # None: one group per org unit
    bot_name: str = "hrbot"
    # Base URL the bot uses to reach the sandbox (its api_base/oapi_base). None: the URL the
    # server was started on. sessionWebhook URLs and the Stream endpoint are built from it.
    public_url: str | None = None
    # DingTalk
    dingtalk_app_key: str | None = None
    dingtalk_app_secret: str | None = None
    dingtalk_robot_code: str | None = None
    dingtalk_card_template_id: str | None = None
    dingtalk_corp_id: str = "dingsandboxcorp"
    stream_ack_timeout: float = 5.0  # re-push an unacked card callback after this
    stream_max_pushes: int = 3
    stream_ping_interval: float | None = 30.0
    stream_disconnect_grace: float = 10.0  # the server closes this long after "disconnect"
    repush_robot_messages: bool = False  # DingTalk does not re-push robot messages
    # WeCom
    wecom_callback_url: str | None = None  # the bot's callback route, e.g. http://…/wecom/callback
    wecom_corp_id: str = "wwsandboxcorp0001"
    wecom_agent_id: int = 1000002
    wecom_secret: str | None = None
    wecom_token: str = "sandboxToken"
    wecom_encoding_aes_key: str = "c2FuZGJveC1hZXMta2V5LWZvci13ZWNvbS10ZXN0czA"
    wecom_callback_timeout: float = 5.0
    wecom_retries: int = 3
    wecom_retry_delay: float = 1.0
    on_clock_advance: ClockHook | None = None
    bot_view: BotView | None = None  # None: the page shows no schedule and no quiet hours
    start_person: str | None = None  # who the page opens as; None: the first referrer
