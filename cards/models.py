"""Platform-neutral card: what every template renders to and every platform renderer reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    params: dict[str, str] = field(default_factory=dict)
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class CardField:
    label: str
    value: str


@dataclass(frozen=True)
class Card:
    """A card as people see it: title, status line, fields, markdown body, buttons, footer.

    ``key`` names the card instance so a later update replaces it in place
    (DingTalk ``outTrackId``, WeCom ``task_id``). ``image`` refers to a picture that goes with
    the card (``chart:<id>``, a rendered chart in storage); each platform adapter uploads it
    its own way, and the card's text carries the same facts for where it cannot.
    """

    title: str
    status: str = ""
    fields: tuple[CardField, ...] = ()
    body: str = ""
    buttons: tuple[Button, ...] = ()
    footer: str = ""
    key: str | None = None
    image: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Card:
        return cls(
            title=data["title"],
            status=data.get("status", ""),
            fields=tuple(CardField(**f) for f in data.get("fields", ())),
            body=data.get("body", ""),
            buttons=tuple(
                Button(
                    label=b["label"],
                    action=b["action"],
                    params={k: str(v) for k, v in b.get("params", {}).items()},
                    style=b.get("style", "default"),
                )
                for b in data.get("buttons", ())
            ),
            footer=data.get("footer", ""),
            key=data.get("key"),
            image=data.get("image", ""),
        )
