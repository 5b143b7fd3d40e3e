"""The contact reads of the configured platforms, for the directory sync (CLI and nightly)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import httpx

from bot.adapters.dingtalk import contacts as dingtalk_contacts
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.ratelimit import RateLimiter
from bot.adapters.wecom import contacts as wecom_contacts
from bot.adapters.wecom.client import WeComClient
from bot.config.schema import Config
from bot.pipeline.directory import OrgSnapshot
from handlers.admin.directory_sync import FetchOrg, SyncPolicy


def contact_sources(
    config: Config, http: httpx.AsyncClient, clock: Callable[[], datetime],
    platforms: Sequence[str] = (), *, dingtalk_limiter: RateLimiter | None = None,
) -> dict[str, FetchOrg]:
    """Platform → full read, for the configured platforms (narrowed to ``platforms``).

    The DingTalk reads get a client of their own without the quota meter: contacts APIs
    are exempt from the monthly quota, and the meter writes to the database, which the
    nightly job's transaction holds while it reads (one connection on SQLite). The per-API
    limiter is shared with the bot's client when given.
    """
    wanted = [p for p in config.platforms() if not platforms or p in platforms]
    sources: dict[str, FetchOrg] = {}
    if "dingtalk" in wanted and config.dingtalk is not None:
        dt = DingTalkClient(config.dingtalk, http, clock, limiter=dingtalk_limiter)

        async def read_dingtalk() -> OrgSnapshot:
            return await dingtalk_contacts.fetch_org(dt)

        sources["dingtalk"] = read_dingtalk
    if "wecom" in wanted and config.wecom is not None:
        wx = WeComClient(config.wecom, http, clock)
        attr = config.directory.wecom_employee_no_attr

        async def read_wecom() -> OrgSnapshot:
            return await wecom_contacts.fetch_org(wx, employee_no_attr=attr)

        sources["wecom"] = read_wecom
    return sources


def sync_policy(config: Config) -> SyncPolicy:
    directory = config.directory
    return SyncPolicy(rules=dict(directory.roles), match_by=directory.match_by,
                      max_deactivate_share=directory.max_deactivate_share)
