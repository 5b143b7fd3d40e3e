"""The sandbox and the real bot on loopback, for end-to-end and browser tests: started on free
ports with a temporary SQLite database, driven through the sandbox's JSON API."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.config.schema import Config, DatabaseConfig, ServerConfig
from bot.serve.assembly import RunningBot
from bot.serve.sandbox import start_sandboxed

REFER = "@hrbot 推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
WAIT = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    api: httpx.AsyncClient
    bot: RunningBot
    page: str  # the emulator page's URL

    async def say(self, person: str, platform: str, text: str, **kw: Any) -> dict[str, Any]:
        response = await self.api.post(
            "say", json={"person": person, "platform": platform, "text": text, **kw})
        assert response.status_code == 200, response.text
        return response.json()

    async def tap(self, person: str, platform: str, card: dict[str, Any], label: str) -> None:
        response = await self.api.post("tap", json={
            "person": person, "platform": platform, "card_id": card["id"], "action": label})
        assert response.status_code == 200, response.text

    async def inbox(self, person: str, platform: str) -> dict[str, Any]:
        response = await self.api.get("inbox", params={"person": person, "platform": platform})
        assert response.status_code == 200, response.text
        return response.json()

    async def cards(self, person: str, platform: str) -> list[dict[str, Any]]:
        box = await self.inbox(person, platform)
        return [m["card"] for m in box["messages"] if m["card"]]

    async def seen(self, person: str, platform: str, *words: str) -> str:
        """Wait until a message or card of ``person`` holds every word; return its text.

        A card without buttons reaches WeCom as a markdown message, on DingTalk as a card.
        """
        async with asyncio.timeout(WAIT):
            while True:
                for message in (await self.inbox(person, platform))["messages"]:
                    text = message["text"] or ""
                    if message["card"]:
                        card = message["card"]
                        text = " ".join([card["title"], card["status"], card["body"],
                                         *(f["value"] for f in card["fields"])])
                    if all(w in text for w in words):
                        return text
                await asyncio.sleep(0.05)

    async def card(
        self, person: str, platform: str, test: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        """The newest card of ``person`` that passes ``test``, waiting for it to arrive."""
        async with asyncio.timeout(WAIT):
            while True:
                found = [c for c in await self.cards(person, platform) if test(c)]
                if found:
                    return found[-1]
                await asyncio.sleep(0.05)


@asynccontextmanager
async def running_sandbox(
    tmp_path: Path, platforms: tuple[str, ...] = ("dingtalk", "wecom")
) -> AsyncIterator[Demo]:
    """The sandbox and the bot, running until the block ends."""
    config = Config(
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.db'}"),
        server=ServerConfig(host="127.0.0.1", port=free_port()),
    )
    bot, page, stop_fakes = await start_sandboxed(
        config, sandbox_port=free_port(), platforms=platforms
    )
    bot.runtime.sweep_seconds = 0.2
    bot.runtime.start()
    try:
        async with httpx.AsyncClient(base_url=page + "api/", timeout=10) as api:
            page_html = await api.get(page)
            assert page_html.status_code == 200 and "hrbot" in page_html.text
            async with asyncio.timeout(WAIT):  # the Stream client connects in the background
                while "dingtalk" in platforms and not (
                    await api.get("status")
                ).json()["dingtalk"]["connected"]:
                    await asyncio.sleep(0.05)
            yield Demo(api=api, bot=bot, page=page)
    finally:
        await bot.runtime.stop()
        await bot.shut_down()
        await stop_fakes()
