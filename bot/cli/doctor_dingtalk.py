"""`hrbot doctor` for DingTalk: credentials, token, permissions, card path, Stream or HTTP
callback, clock. Each check is one line: what was found, and if wrong what to change."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import websockets

from bot.adapters.dingtalk.builtin_card import is_builtin
from bot.adapters.dingtalk.card_callbacks import card_callback_url, card_route_key
from bot.adapters.dingtalk.client import DingTalkClient
from bot.adapters.dingtalk.frames import OPEN_PATH, TOPIC_CARD, TOPIC_ROBOT, open_connection
from bot.cli.doctor_table import DINGTALK_CONSOLE, DINGTALK_PERMISSIONS
from bot.config.schema import Config, DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError

PERMISSION_DENIED = "Forbidden.AccessDenied.AccessTokenPermissionDenied"
MAX_SKEW_S = 300  # the token margin; HTTP-mode signatures allow an hour


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def config_values(config: DingTalkConfig) -> list[Check]:
    """Required values present and not the example's placeholders."""
    checks = []
    for key in ("app_key", "app_secret", "robot_code"):
        value = getattr(config, key)
        bad = not value or "PLACEHOLDER" in value.upper()
        checks.append(Check(f"dingtalk.{key}", not bad, (
            f"set [dingtalk] {key} (env HRBOT_DINGTALK_{key.upper()}) from {DINGTALK_CONSOLE}"
            " → the app → 凭证与基础信息") if bad else "set"))
    if config.mode == "http":
        checks.append(Check("dingtalk.public_url", bool(config.public_url), (
            "set [dingtalk] public_url to the https address DingTalk reaches this server at")
            if not config.public_url else config.public_url))
    return checks


async def token(client: DingTalkClient) -> Check:
    try:
        await client.access_token(force=True)
    except PlatformError as err:
        return Check("dingtalk token", False, (
            f"DingTalk refused AppKey/AppSecret ({err.errcode}): copy both again from "
            f"{DINGTALK_CONSOLE} → the app → 凭证与基础信息"))
    except TransientDeliveryError as err:
        return Check("dingtalk token", False, f"DingTalk unreachable ({err}); check egress")
    return Check("dingtalk token", True, "access token fetched")


async def permissions(client: DingTalkClient, config: Config) -> list[Check]:
    """One cheap call per permission point an enabled feature needs."""
    assert config.dingtalk is not None
    checks = []
    for permission in DINGTALK_PERMISSIONS:
        if not permission.needed(config):
            continue
        name = f"dingtalk permission {permission.scope}"
        path = permission.path.replace("{unionId}", "hrbot-doctor")
        try:
            status, data, _ = await client.probe(
                permission.method, path, permission.body(config.dingtalk), api=permission.path)
        except (PlatformError, TransientDeliveryError) as err:
            checks.append(Check(name, False, f"not checked: {err}"))
            continue
        code = str(data.get("code", "")) if isinstance(data, dict) else ""
        if status == 403 and code.startswith(PERMISSION_DENIED):
            detail = data.get("accessdenieddetail") if isinstance(data, dict) else None
            scopes = detail.get("requiredScopes") if isinstance(detail, dict) else None
            wanted = ", ".join(scopes) if isinstance(scopes, list) and scopes else permission.scope
            checks.append(Check(name, False, (
                f"missing for {permission.feature}: {DINGTALK_CONSOLE} → the app → 权限管理 → "
                f"apply for {wanted} ({permission.name}), then publish a new version")))
        elif status >= 500:
            checks.append(Check(name, False, f"not checked: DingTalk answered HTTP {status}"))
        else:  # 2xx, or 400 about the parameters left empty on purpose
            checks.append(Check(name, True, f"granted ({permission.name})"))
    return checks


async def card_template(client: DingTalkClient, config: DingTalkConfig) -> Check:
    """The published template needs nothing; a template of one's own must exist."""
    if is_builtin(config.card_template_id):
        return Check("dingtalk card template", True,
                     "DingTalk's published template (nothing to build)")
    nobody = "hrbot-doctor-" + uuid.uuid4().hex[:12]
    status, data, _ = await client.probe("POST", "/v1.0/card/instances/createAndDeliver", {
        "cardTemplateId": config.card_template_id, "outTrackId": nobody,
        "cardData": {"cardParamMap": {"title": "hrbot doctor"}}, "callbackType": "STREAM",
        "openSpaceId": f"dtv1.card//IM_ROBOT.{nobody}",
        "imRobotOpenDeliverModel": {"spaceType": "IM_ROBOT"}, "userIdType": 1,
    })
    code = str(data.get("code", "")) if isinstance(data, dict) else ""
    if code in ("param.templateNotExist", "param.templateUnpublished"):
        return Check("dingtalk card template", False, (
            f"{config.card_template_id!r}: {code}; publish it in the card platform, or set "
            "[dingtalk] card_template_id = \"\" for DingTalk's published template"))
    if status >= 500:
        return Check("dingtalk card template", False, f"not checked: HTTP {status}")
    return Check("dingtalk card template", True, f"{config.card_template_id} exists")


async def stream(http: httpx.AsyncClient, config: DingTalkConfig) -> Check:
    """Register for a ticket and open the websocket once."""
    try:
        uri = await open_connection(
            http, config.api_base.rstrip("/") + OPEN_PATH, client_id=config.app_key,
            client_secret=config.app_secret, ip="127.0.0.1",
            subscriptions=[{"type": "CALLBACK", "topic": t} for t in (TOPIC_ROBOT, TOPIC_CARD)],
        )
        async with websockets.connect(uri, open_timeout=10, close_timeout=2):
            pass
    except (httpx.HTTPError, ValueError, OSError, TimeoutError,
            websockets.exceptions.WebSocketException) as err:
        return Check("dingtalk stream", False, (
            f"the Stream connection did not open ({type(err).__name__}): set the robot's "
            "消息接收模式 to Stream 模式 and publish; allow wss://wss-open-connection.dingtalk.com"))
    return Check("dingtalk stream", True, "connection opened")


async def http_callbacks(client: DingTalkClient, config: DingTalkConfig) -> Check:
    """HTTP mode: the card callback URL registered under this app's route key."""
    url = card_callback_url(config.public_url, config.http_callback_path)
    try:
        await client.register_card_callback(
            callback_url=url, route_key=card_route_key(config.app_key),
            api_secret=config.app_secret, force=True)
    except (PlatformError, TransientDeliveryError) as err:
        return Check("dingtalk card callbacks", False, (
            f"registering {url} failed ({err}); check the Card.Instance.Write permission"))
    return Check("dingtalk card callbacks", True, f"taps go to {url}")


def clock_skew(date_header: str, now: Callable[[], datetime]) -> Check:
    """Our clock against DingTalk's ``Date`` header."""
    try:
        theirs = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return Check("clock", True, "DingTalk sent no Date header: not compared")
    skew = abs((now() - theirs).total_seconds())
    if skew > MAX_SKEW_S:
        return Check("clock", False, f"{skew:.0f} s off DingTalk's clock: enable NTP")
    return Check("clock", True, f"{skew:.0f} s off DingTalk's clock")


async def run(config: Config, http: httpx.AsyncClient, now: Callable[[], datetime]
              ) -> list[Check]:
    """Every DingTalk check, stopping after the token when the credentials are wrong."""
    dingtalk = config.dingtalk
    assert dingtalk is not None
    checks = config_values(dingtalk)
    if not all(c.ok for c in checks):
        return checks
    client = DingTalkClient(dingtalk, http, now)
    checks.append(await token(client))
    if not checks[-1].ok:
        return checks
    checks += await permissions(client, config)
    checks.append(await card_template(client, dingtalk))
    if dingtalk.mode == "stream":
        checks.append(await stream(http, dingtalk))
    elif dingtalk.public_url:
        checks.append(await http_callbacks(client, dingtalk))
    _, _, date = await client.probe("POST", "/v1.0/robot/groupMessages/send", {})
    checks.append(clock_skew(date, now))
    return checks
