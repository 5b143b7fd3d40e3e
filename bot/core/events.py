"""The platform-neutral event every adapter produces and every handler consumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Platform(StrEnum):
    DINGTALK = "dingtalk"
    WECOM = "wecom"
    SHELL = "shell"


class EventKind(StrEnum):
    MESSAGE = "message"
    CARD_ACTION = "card_action"
    CONTACT_ADDED = "contact_added"
    SYSTEM = "system"


class ConversationKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


@dataclass(frozen=True)
class Conversation:
    id: str
    kind: ConversationKind = ConversationKind.DIRECT


@dataclass(frozen=True)
class Attachment:
    kind: str
    filename: str
    ref: str  # platform handle (DingTalk downloadCode, WeCom media id)


@dataclass(frozen=True)
class CardAction:
    action_id: str
    params: dict[str, str] = field(default_factory=dict)
    card_key: str | None = None


@dataclass(frozen=True)
class Event:
    """One thing that happened on a platform, already verified and decoded.

    ``actor_id`` is the platform's user id (DingTalk staffId, WeCom userid); the dispatcher
    resolves it to a directory ``Person``.
    """

    platform: Platform
    event_id: str
    kind: EventKind
    actor_id: str
    conversation: Conversation
    text: str = ""
    mentions: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    action: CardAction | None = None
    reply_handle: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        action = data.get("action")
        return cls(
            platform=Platform(data["platform"]),
            event_id=data["event_id"],
            kind=EventKind(data["kind"]),
            actor_id=data["actor_id"],
            conversation=Conversation(
                id=data["conversation"]["id"],
                kind=ConversationKind(data["conversation"]["kind"]),
            ),
            text=data.get("text", ""),
            mentions=tuple(data.get("mentions", ())),
            attachments=tuple(Attachment(**a) for a in data.get("attachments", ())),
            action=CardAction(**action) if action else None,
            reply_handle=dict(data.get("reply_handle", {})),
        )
