"""Scenario demos (演示剧本): the reference situations played step by step on the page.

Each demo is a JSON file in ``sandbox/demos/`` (adding one is adding a file): a title, the
problem, the figure that matters and steps. A step is one thing a person does — say, tap,
confirm a mass send — or a move of the clock, with a line of narration and what someone
must then see. A step is played by calling the sandbox's own JSON API over HTTP, exactly as
the tests and the page do, so a demo that plays to its end is also an end-to-end test.

Steps are found by what a person sees (the newest card with that title and that button), not
by ids, so a visitor can take over by hand and hand back to the demo at any step.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from sandbox.state import PLATFORMS

DEMO_DIR = Path(__file__).resolve().parent / "demos"
ACTIONS = ("say", "tap", "clock", "confirm")
EXPECT_TIMEOUT = 15.0
ALREADY_DONE_WAIT = 2.0


class DemoError(Exception):
    """A step cannot be played (in Chinese: the page shows it as is)."""


def _required(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise ValueError(f"{where}: missing {key!r}")
    return data[key]


def _check_step(step: Any, where: str) -> None:
    if not isinstance(step, dict) or not isinstance(step.get("narration"), str):
        raise ValueError(f"{where}: a step is an object with a narration")
    actions = [a for a in ACTIONS if a in step]
    if len(actions) != 1:
        raise ValueError(f"{where}: exactly one of {', '.join(ACTIONS)}")
    if actions[0] != "clock":
        _required(step, "as", where)
    expect = step.get("expect")
    if expect is not None and not (isinstance(expect, dict) and expect.get("as")
                                   and isinstance(expect.get("words"), list)):
        raise ValueError(f"{where}: expect is {{as, words: [...]}}")


def load_demo(path: Path) -> dict[str, Any]:
    """One demo file, checked so a typo fails at start, not in front of an audience.

    Raises:
        ValueError: The file is not a demo.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    for key in ("id", "title", "problem", "figure", "steps"):
        _required(data, key, path.name)
    platforms = data.setdefault("platforms", list(PLATFORMS))
    if not platforms or any(p not in PLATFORMS for p in platforms):
        raise ValueError(f"{path.name}: platforms must be among {PLATFORMS}")
    for number, step in enumerate(data["steps"], 1):
        _check_step(step, f"{path.name} step {number}")
    return data


def load_demos(directory: Path = DEMO_DIR) -> list[dict[str, Any]]:
    """Every demo, in the order of their ``order`` field then file name."""
    demos = [load_demo(p) for p in sorted(directory.glob("*.json"))]
    return sorted(demos, key=lambda d: (d.get("order", 99), d["id"]))


def new_run() -> dict[str, str]:
    """Values a run fills into its steps: a fresh phone number, so a demo played twice is
    not a duplicate referral of the first run's candidate."""
    return {"phone": "139" + "".join(random.choices("0123456789", k=8))}


def _filled(value: Any, run: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, text in run.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [_filled(v, run) for v in value]
    if isinstance(value, dict):
        return {k: _filled(v, run) for k, v in value.items()}
    return value


def message_text(message: dict[str, Any]) -> str:
    card = message.get("card")
    if card:
        return " ".join([card["title"], card["status"], card["body"], card.get("footer", ""),
                         *(f["value"] for f in card["fields"]),
                         *(b["label"] for b in card["buttons"])])
    return f"{message.get('title') or ''} {message.get('text') or ''}"


def _card(messages: list[dict[str, Any]], title: str, label: str) -> dict[str, Any] | None:
    """The newest card with that title and an enabled ``label`` button."""
    for message in reversed(messages):
        card = message.get("card")
        if card and card["title"].startswith(title) and any(
                b["label"] == label and b["enabled"] for b in card["buttons"]):
            return dict(card)
    return None


def _done(messages: list[dict[str, Any]], title: str, label: str) -> bool:
    """True when the newest card with that title shows ``label`` only as already used."""
    for message in reversed(messages):
        card = message.get("card")
        if card and card["title"].startswith(title):
            return not any(b["label"] == label and b["enabled"] for b in card["buttons"])
    return False


@dataclass
class Player:
    """Plays steps through the JSON API at ``api`` (``…/sandbox/api/``)."""

    http: aiohttp.ClientSession
    api: str

    async def call(self, method: str, endpoint: str, body: Any = None,
                   **params: str) -> dict[str, Any]:
        async with self.http.request(method, self.api + endpoint, json=body,
                                     params=params or None) as resp:
            data = await resp.json(content_type=None)
            if resp.status != 200:
                raise DemoError(data.get("error") if isinstance(data, dict) else str(data))
            return data

    async def inbox(self, person: str, platform: str) -> list[dict[str, Any]]:
        data = await self.call("GET", "inbox", person=person, platform=platform)
        return list(data["messages"])

    async def play(self, step: dict[str, Any], platform: str,
                   run: dict[str, str]) -> dict[str, Any]:
        """Do one step, then wait for what it must bring; returns who to show and what."""
        step = _filled(step, run)
        who = str(step.get("as") or "")
        expect = step.get("expect")
        # Only what the step brings counts: a message that is new or a card that changed.
        before = {(m["seq"], message_text(m)) for m in await self.inbox(expect["as"], platform)
                  } if expect is not None else set()
        if "say" in step:
            await self.call("POST", "say", {"person": who, "platform": platform,
                                            "text": step["say"]})
        elif "tap" in step:
            await self._tap(who, platform, step["tap"])
        elif "confirm" in step:
            tasks = (await self.call("GET", "inbox", person=who, platform=platform))["tasks"]
            pending = [t for t in tasks if t["status"] == "pending"]
            if not pending:
                raise DemoError("没有待确认的群发任务")
            await self.call("POST", "confirm", {"person": who, "msgid": pending[-1]["msgid"]})
        else:
            await self.call("POST", "clock/advance", step["clock"])
        if expect is None:
            return {"show": who, "seen": ""}
        seen = await self.wait_for(expect["as"], platform, expect["words"], before)
        return {"show": expect["as"], "seen": seen}

    async def _tap(self, who: str, platform: str, spec: dict[str, Any]) -> None:
        title, label, via = spec.get("card", ""), spec["button"], spec.get("via")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXPECT_TIMEOUT
        while True:
            messages = await self.inbox(who, platform)
            card = _card(messages, title, label)
            if card is not None:
                await self.call("POST", "tap", {"person": who, "platform": platform,
                                                "card_id": card["id"], "action": label})
                return
            # Some buttons sit behind another (更多原因…): open it, then look again.
            first = _card(messages, title, via) if via else None
            if first is not None:
                await self.call("POST", "tap", {"person": who, "platform": platform,
                                                "card_id": first["id"], "action": via})
                via = None
            if _done(messages, title, label) and deadline - loop.time() > ALREADY_DONE_WAIT:
                # Tapped already (by hand, most likely): give a late card a moment, no more.
                deadline = loop.time() + ALREADY_DONE_WAIT
            if loop.time() >= deadline:
                raise DemoError(f"找不到带「{label}」按钮的卡片「{title}」"
                                "（如果你已手动完成这一步，请跳过）")
            await asyncio.sleep(0.1)

    async def wait_for(self, who: str, platform: str, words: list[str],
                       before: set[tuple[int, str]] | None = None) -> str:
        """The newest text of ``who`` holding every word and not among ``before`` (seq,
        text), waiting until it arrives."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXPECT_TIMEOUT
        while True:
            for message in reversed(await self.inbox(who, platform)):
                text = message_text(message)
                if all(w in text for w in words) and (message["seq"], text) not in (
                        before or ()):
                    return text
            if loop.time() >= deadline:
                raise DemoError(f"等了 {EXPECT_TIMEOUT:.0f} 秒，{who} 没有看到「"
                                + "、".join(words) + "」")
            await asyncio.sleep(0.1)
