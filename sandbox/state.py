"""The sandbox's in-memory world: chats, cards, recorded API calls, clock and 客户联系 tasks.

Everything the fakes learn from the bot ends up here, and everything the page and the JSON
API show is read from here. :meth:`World.reset` forgets all of it except the people.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.faults import FaultBook
from sandbox.limits import PlatformLimits
from sandbox.org import Directory, Person

BOT = "bot"
DINGTALK = "dingtalk"
WECOM = "wecom"
PLATFORMS = (DINGTALK, WECOM)


def dm_key(person_id: str) -> str:
    """Conversation key of a person's 1:1 chat with the bot."""
    return f"dm:{person_id}"


@dataclass
class Message:
    """One chat message; a card message shows its card's latest state."""

    seq: int
    platform: str
    conversation: str  # dm_key(person) or a group id
    kind: str  # text | markdown | card
    sender: str  # BOT or a person id
    time: float
    text: str = ""
    title: str = ""
    card_id: str | None = None
    visible_to: tuple[str, ...] | None = None  # None: everyone in the conversation
    pushed: bool = False  # delivered to the bot (people's messages only)
    media: str = ""  # media_id of an image or file message


@dataclass
class Media:
    """An uploaded picture or file, kept so image and file messages can be shown."""

    id: str
    platform: str
    kind: str  # image | voice | video | file
    filename: str
    content: bytes
    content_type: str


@dataclass
class CardState:
    """A card as the platform holds it; updates replace ``content`` in place.

    DingTalk: ``content = {"params": cardParamMap, "private": {userId: cardParamMap}}``.
    WeCom: ``content`` is the ``template_card`` object of one recipient's copy.
    """

    id: str
    platform: str
    content: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    created: float = 0.0
    updated: float = 0.0


@dataclass
class MassTask:
    """An ``add_msg_template`` task: nothing reaches the customers until the sender confirms."""

    msgid: str
    sender: str  # WeCom userid of the employee
    person_id: str
    external_userids: list[str]
    fail_list: list[str]
    text: str
    attachments: list[dict[str, Any]]
    created: float
    status: str = "pending"  # pending | sent
    send_time: float | None = None


@dataclass
class Candidate:
    """An external contact (a candidate's WeChat) and what they received."""

    external_userid: str
    name: str
    mobile: str = ""
    follow: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


class World:
    """All mutable sandbox state; one per sandbox app."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.faults = FaultBook()
        self.clock_offset = 0.0
        self.base_url = ""  # set once the server is bound
        self._clear()

    def _clear(self) -> None:
        self.revision = 0
        self._seq = 0
        self.messages: list[Message] = []
        self.cards: dict[str, CardState] = {}
        self.calls: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.tasks: dict[str, MassTask] = {}
        self.candidates: dict[str, Candidate] = {}
        # welcome_code -> (employee userid, external userid, issued at): single use, 20 s
        self.welcome_codes: dict[str, tuple[str, str, float]] = {}
        self.todos: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (platform, expires at)
        self.sessions: dict[str, tuple[str, float]] = {}  # sessionWebhook -> (conv, expiry)
        self.response_codes: dict[str, dict[str, Any]] = {}
        self.task_ids: set[str] = set()
        self.sent_bodies: dict[str, tuple[float, dict[str, Any]]] = {}  # duplicate check
        self.card_callbacks: dict[str, dict[str, Any]] = {}  # DingTalk HTTP route keys
        self.limits = PlatformLimits()  # the platforms' send limits, as they enforce them
        self.media: dict[str, Media] = {}

    def reset(self) -> None:
        """Forget conversations, cards, calls, faults, tasks and tokens; keep the people.

        The clock stays where it is: the bot's clock was advanced along with it and cannot
        go back, and callbacks stamped earlier than the bot's clock would be refused.
        """
        revision = self.revision
        self._clear()
        self.faults.clear()
        self.revision = revision + 1  # pollers must notice

    def now(self) -> float:
        """Sandbox time (epoch seconds): real time plus what the clock was advanced by."""
        return time.time() + self.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def touch(self) -> None:
        self.revision += 1

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add_message(self, platform: str, conversation: str, kind: str, sender: str,
                    **fields: Any) -> Message:
        """Append a message to a conversation and bump the revision."""
        message = Message(seq=self.next_seq(), platform=platform, conversation=conversation,
                          kind=kind, sender=sender, time=self.now(), **fields)
        self.messages.append(message)
        self.touch()
        return message

    def add_card(self, card_id: str, platform: str, content: dict[str, Any],
                 meta: dict[str, Any]) -> CardState:
        now = self.now()
        card = CardState(card_id, platform, content, meta, created=now, updated=now)
        self.cards[card_id] = card
        self.touch()
        return card

    def updated_card(self, card: CardState, content: dict[str, Any]) -> None:
        """Replace a card's content: every message showing it shows the new state."""
        card.content = content
        card.version += 1
        card.updated = self.now()
        self.touch()

    def can_see(self, person: Person, message: Message) -> bool:
        if message.visible_to is not None and person.id not in message.visible_to:
            return False
        if message.conversation == dm_key(person.id):
            return True
        group = self.directory.group(message.conversation)
        return group is not None and person.id in group.members

    def inbox(self, person: Person, platform: str,
              conversation: str | None = None) -> list[Message]:
        """Messages ``person`` sees on ``platform``, oldest first."""
        return [
            m for m in self.messages
            if m.platform == platform and (conversation is None or m.conversation == conversation)
            and self.can_see(person, m)
        ]

    def issue_token(self, platform: str, token: str, lifetime: float) -> None:
        self.tokens[token] = (platform, self.now() + lifetime)

    def token_state(self, platform: str, token: str) -> str:
        """``valid``, ``expired`` or ``unknown`` (tokens of the other platform are unknown)."""
        entry = self.tokens.get(token)
        if entry is None or entry[0] != platform:
            return "unknown"
        return "valid" if self.now() < entry[1] else "expired"

    def record_call(self, call: dict[str, Any]) -> None:
        call["seq"] = self.next_seq()
        self.calls.append(call)

    def add_delivery(self, platform: str, kind: str, ref: str, **extra: Any) -> dict[str, Any]:
        """A push to the bot (frame or callback) whose attempts and answer get recorded."""
        delivery: dict[str, Any] = {
            "id": f"d{self.next_seq()}", "platform": platform, "kind": kind, "ref": ref,
            "status": "pending", "attempts": [], "ack": None, **extra,
        }
        self.deliveries.append(delivery)
        return delivery
