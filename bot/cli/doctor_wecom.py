"""`hrbot doctor` for WeCom: credentials, token (bad secret, untrusted IP), the app and its
visible range, and the callback URL answering WeCom's own URL check.

Sources:
    https://developer.work.weixin.qq.com/document/path/91039 (gettoken)
    https://developer.work.weixin.qq.com/document/path/90227 (agent/get: allow_userinfos)
    https://developer.work.weixin.qq.com/document/path/90930 (URL check: echostr)
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.adapters.wecom.client import WeComClient
from bot.cli.doctor_dingtalk import Check
from bot.cli.doctor_table import WECOM_FIXES
from bot.config.schema import WeComConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError


def _fix(data: dict[str, Any]) -> str:
    code = int(data.get("errcode") or 0)
    fix = WECOM_FIXES.get(code, "see https://developer.work.weixin.qq.com/document/path/90313")
    return f"errcode {code} ({str(data.get('errmsg', ''))[:120]}): {fix}"


def config_values(config: WeComConfig) -> list[Check]:
    checks = []
    for key in ("corp_id", "secret", "token"):
        value = str(getattr(config, key))
        bad = not value or "PLACEHOLDER" in value.upper()
        checks.append(Check(f"wecom.{key}", not bad, (
            f"set [wecom] {key} (env HRBOT_WECOM_{key.upper()})") if bad else "set"))
    return checks


async def token(client: WeComClient) -> tuple[Check, str]:
    """gettoken, read as WeCom answers it (so the errcode can be explained)."""
    config = client.config
    try:
        data = await client._request(
            "GET", "/cgi-bin/gettoken",
            params={"corpid": config.corp_id, "corpsecret": config.secret})
    except (PlatformError, TransientDeliveryError) as err:
        return Check("wecom token", False, f"WeCom unreachable ({err}); check egress"), ""
    if data.get("errcode", 0) != 0 or not data.get("access_token"):
        return Check("wecom token", False, _fix(data)), ""
    return Check("wecom token", True, "access token fetched"), str(data["access_token"])


async def app(client: WeComClient, access_token: str) -> Check:
    """The app behind agent_id, and who can see it."""
    try:
        data = await client._request("GET", "/cgi-bin/agent/get", params={
            "access_token": access_token, "agentid": str(client.config.agent_id)})
    except (PlatformError, TransientDeliveryError) as err:
        return Check("wecom app", False, f"not checked: {err}")
    if data.get("errcode", 0) != 0:
        return Check("wecom app", False, _fix(data))
    users = (data.get("allow_userinfos") or {}).get("user") or []
    parties = (data.get("allow_partys") or {}).get("partyid") or []
    if not users and not parties:
        return Check("wecom app", False, (
            "nobody can see the app: set its 可见范围 to everyone who uses hrbot"))
    return Check("wecom app", True, (
        f"{data.get('name', 'app')}: visible to {len(users)} members, {len(parties)} departments"))


async def callback_url(http: httpx.AsyncClient, config: WeComConfig) -> Check:
    """WeCom's URL check, made here: a signed, encrypted echostr must come back decrypted."""
    if not config.public_url:
        return Check("wecom callback", True, "not checked: set [wecom] public_url to check it")
    url = config.public_url.rstrip("/") + config.callback_path
    echo, nonce, stamp = secrets.token_hex(8), secrets.token_hex(5), str(int(time.time()))
    crypto = WeChatCrypto(config.token, config.encoding_aes_key, config.corp_id)
    reply = ElementTree.fromstring(crypto.encrypt_message(echo, nonce, stamp))
    params = {"msg_signature": reply.findtext("MsgSignature") or "", "timestamp": stamp,
              "nonce": nonce, "echostr": reply.findtext("Encrypt") or ""}
    try:
        response = await http.get(url, params=params, timeout=5.0)
    except httpx.HTTPError as err:
        return Check("wecom callback", False, (
            f"{url} unreachable ({type(err).__name__}): WeCom must reach it over the internet"))
    if response.status_code != 200 or response.text != echo:
        return Check("wecom callback", False, (
            f"{url} answered HTTP {response.status_code} without the echo: check that "
            "[wecom] token, encoding_aes_key and corp_id match 接收消息 → 设置API接收"))
    return Check("wecom callback", True, f"{url} answers the URL check")


async def run(config: WeComConfig, http: httpx.AsyncClient) -> list[Check]:
    checks = config_values(config)
    if not all(c.ok for c in checks):
        return checks
    client = WeComClient(config, http)
    checked, access_token = await token(client)
    checks.append(checked)
    if checked.ok:
        checks.append(await app(client, access_token))
    checks.append(await callback_url(http, config))
    return checks
