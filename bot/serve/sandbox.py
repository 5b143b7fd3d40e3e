"""`hrbot serve` without credentials: the sandbox platforms, the real bot pointed at them, and
the demo org, so a newcomer sees the whole flow in a browser within a minute.

The bot runs exactly as in production (Stream client, encrypted WeCom callbacks, the outbox,
the clock); only its base URLs and credentials name the local fakes. The sandbox's clock can
be advanced from the page: the bot's clock follows and runs a beat at once, so reminders and
escalations show without waiting.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.cli.demo import DEMO_DIR, seed_demo
from bot.config.schema import Config, DingTalkConfig, WeComConfig
from bot.config.settings import open_database
from bot.serve.assembly import RunningBot, start_bot
from bot.serve.lifecycle import run_until_signalled
from bot.serve.sandbox_view import BotSchedule
from sandbox.app import start_sandbox
from sandbox.settings import SandboxSettings
from storage.migrate import upgrade_database

log = logging.getLogger("hrbot.sandbox")

DEFAULT_DATABASE = "sqlite+aiosqlite:///hrbot.db"
SANDBOX_DATABASE = "sqlite+aiosqlite:///hrbot-sandbox.db"
# Made-up credentials both sides agree on: the fakes check them as the platforms would.
APP_KEY = ROBOT_CODE = "dingsandboxkey"
APP_SECRET = "sandbox-secret"
TEMPLATE = "hrbot-card"
WECOM_SECRET = "sandbox-wecom-secret"
CALLBACK_PATH = "/wecom/callback"
PLATFORMS = ("dingtalk", "wecom")


class ShiftedClock:
    """The real time plus however far the sandbox's clock was advanced."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def sandbox_settings(bot_url: str) -> SandboxSettings:
    """What the fakes expect: the bot's credentials and where its callback route listens."""
    return SandboxSettings(
        people_csv=DEMO_DIR / "people.csv",
        dingtalk_app_key=APP_KEY,
        dingtalk_app_secret=APP_SECRET,
        dingtalk_robot_code=ROBOT_CODE,
        dingtalk_card_template_id=TEMPLATE,
        wecom_callback_url=bot_url + CALLBACK_PATH,
        wecom_secret=WECOM_SECRET,
    )


def bot_config(
    config: Config, fakes: SandboxSettings, sandbox_url: str,
    platforms: tuple[str, ...] = PLATFORMS,
) -> Config:
    """``config`` with ``platforms`` pointed at the sandbox (and the sandbox's database)."""
    database = config.database
    if database.url == DEFAULT_DATABASE:
        database = replace(database, url=SANDBOX_DATABASE)
    dingtalk = DingTalkConfig(
        app_key=APP_KEY, app_secret=APP_SECRET, robot_code=ROBOT_CODE,
        # No template of its own, as on a fresh tenant: DingTalk's published one.
        card_template_id="", mode="stream", api_base=sandbox_url, oapi_base=sandbox_url,
        todo_url=sandbox_url + "/sandbox/",
    )
    wecom = WeComConfig(
        corp_id=fakes.wecom_corp_id, agent_id=fakes.wecom_agent_id, secret=WECOM_SECRET,
        token=fakes.wecom_token, encoding_aes_key=fakes.wecom_encoding_aes_key,
        api_base=sandbox_url, callback_path=CALLBACK_PATH,
    )
    return replace(
        config, database=database,
        dingtalk=dingtalk if "dingtalk" in platforms else None,
        wecom=wecom if "wecom" in platforms else None,
    )


async def start_sandboxed(
    config: Config, *, sandbox_port: int, platforms: tuple[str, ...] = PLATFORMS
) -> tuple[RunningBot, str, Callable[[], Awaitable[None]]]:
    """Start the fakes and the bot; returns the bot, the page's URL and how to stop the fakes.

    ``platforms`` narrows which fakes the bot uses (people reachable on both get clock-sent
    cards on the first one, so a WeCom-only bot shows WeCom's own recall flow).
    """
    host = config.server.host
    bot_url = f"http://{host}:{config.server.port}"
    clock = ShiftedClock()
    bot: RunningBot | None = None

    async def on_clock_advance(delta: float, total: float) -> None:
        clock.offset = timedelta(seconds=total)
        if bot is not None:
            await bot.runtime.tick()

    fakes = replace(sandbox_settings(bot_url), on_clock_advance=on_clock_advance)
    runner, sandbox_url = await start_sandbox(fakes, host, sandbox_port)
    config = bot_config(config, fakes, sandbox_url, platforms)
    await upgrade_database(config.database.url)
    database = open_database(config)
    people, positions = await seed_demo(database.session_factory)
    await database.close()
    if not (people.ok and positions.ok):
        log.warning("demo org loaded with problems: %s %s", people.errors, positions.errors)
    bot = await start_bot(config, clock=clock)
    # The page's "即将发生" panel and quiet-hours note read the bot's own schedule.
    fakes.bot_view = BotSchedule(bot.runtime.runner.session_factory, bot.runtime.runner.settings)
    return bot, sandbox_url + "/sandbox/", runner.cleanup


async def serve_sandbox(config: Config, *, sandbox_port: int | None = None) -> int:
    """Run the sandbox and the bot until SIGTERM/SIGINT; prints the page's URL."""
    port = sandbox_port or config.server.port + 1
    bot, page, stop_fakes = await start_sandboxed(config, sandbox_port=port)

    async def shut_down() -> None:
        await bot.shut_down()
        await stop_fakes()

    print(f"hrbot sandbox: open {page} (Ctrl-C stops)", file=sys.stderr, flush=True)
    await run_until_signalled(bot.runtime, on_stop=shut_down)
    return 0
