"""Fake WeCom's side of callbacks: plaintext XML, encrypted and signed, POSTed to the bot.

The XML is what WeCom sends (text message, ``template_card_event``,
``change_external_contact``); it is encrypted with the app's EncodingAESKey and corp id
(wechatpy's ``WeChatCrypto``) and signed with the Token. A POST that gets no 200 within
5 s is retried up to 3 times with the same body and MsgId, as WeCom does; every attempt is
recorded.

Sources:
    https://developer.work.weixin.qq.com/document/path/90930 (回调配置: 5 s, 3 retries)
    https://developer.work.weixin.qq.com/document/path/90968 (加解密方案说明)
    https://developer.work.weixin.qq.com/document/path/90240 (template_card_event)
    https://developer.work.weixin.qq.com/document/path/92130 (change_external_contact)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any
from xml.etree import ElementTree

import aiohttp
from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto

from sandbox.settings import SandboxSettings
from sandbox.state import WECOM, World


def cdata(value: str) -> str:
    """``value`` as CDATA; a literal ``]]>`` is split across two sections."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_message_xml(*, corp_id: str, userid: str, text: str, msg_id: str, agent_id: int,
                     created: int) -> str:
    return (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{cdata(userid)}</FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType>{cdata('text')}</MsgType><Content>{cdata(text)}</Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


def card_event_xml(*, corp_id: str, userid: str, created: int, event_key: str, task_id: str,
                   card_type: str, response_code: str, agent_id: int,
                   selected: dict[str, list[str]] | None = None) -> str:
    items = "".join(
        f"<SelectedItem><QuestionKey>{cdata(question)}</QuestionKey><OptionIds>"
        + "".join(f"<OptionId>{cdata(option)}</OptionId>" for option in options)
        + "</OptionIds></SelectedItem>"
        for question, options in (selected or {}).items()
    )
    return (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName>"
        f"<FromUserName>{cdata(userid)}</FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType>{cdata('event')}</MsgType><Event>{cdata('template_card_event')}</Event>"
        f"<EventKey>{cdata(event_key)}</EventKey><TaskId>{cdata(task_id)}</TaskId>"
        f"<CardType>{cdata(card_type)}</CardType>"
        f"<ResponseCode>{cdata(response_code)}</ResponseCode><AgentID>{agent_id}</AgentID>"
        + (f"<SelectedItems>{items}</SelectedItems>" if items else "")
        + "</xml>"
    )


def contact_added_xml(*, corp_id: str, employee: str, external_userid: str, state: str,
                      welcome_code: str, created: int) -> str:
    return (
        f"<xml><ToUserName>{cdata(corp_id)}</ToUserName><FromUserName>{cdata('sys')}"
        f"</FromUserName><CreateTime>{created}</CreateTime><MsgType>{cdata('event')}</MsgType>"
        f"<Event>{cdata('change_external_contact')}</Event>"
        f"<ChangeType>{cdata('add_external_contact')}</ChangeType>"
        f"<UserID>{cdata(employee)}</UserID><ExternalUserID>{cdata(external_userid)}"
        f"</ExternalUserID><State>{cdata(state)}</State>"
        f"<WelcomeCode>{cdata(welcome_code)}</WelcomeCode></xml>"
    )


class NoCallbackUrl(Exception):
    """The launcher gave no callback URL for the bot's WeCom route."""


class CallbackSender:
    """Encrypts, signs and posts callbacks, retrying like WeCom."""

    def __init__(self, world: World, settings: SandboxSettings) -> None:
        self.world = world
        self.settings = settings
        self.crypto = WeChatCrypto(settings.wecom_token, settings.wecom_encoding_aes_key,
                                   settings.wecom_corp_id)
        self._tasks: set[asyncio.Task[None]] = set()

    def envelope(self, xml: str) -> tuple[dict[str, str], str]:
        """(query parameters, POST body) for one plaintext callback."""
        nonce = str(random.randint(10**9, 10**10 - 1))
        stamp = str(int(self.world.now()))
        reply = ElementTree.fromstring(self.crypto.encrypt_message(xml, nonce, stamp))
        encrypted = reply.findtext("Encrypt") or ""
        query = {"msg_signature": reply.findtext("MsgSignature") or "", "timestamp": stamp,
                 "nonce": nonce}
        body = (f"<xml><ToUserName>{cdata(self.settings.wecom_corp_id)}</ToUserName>"
                f"<AgentID>{cdata(str(self.settings.wecom_agent_id))}</AgentID>"
                f"<Encrypt>{cdata(encrypted)}</Encrypt></xml>")
        return query, body

    async def deliver(self, http: aiohttp.ClientSession, xml: str, kind: str,
                      ref: str) -> dict[str, Any]:
        """Post once and return the delivery record; failed posts are retried in the
        background (the record keeps growing).

        Raises:
            NoCallbackUrl: No callback URL was configured.
        """
        url = self.settings.wecom_callback_url
        if not url:
            raise NoCallbackUrl
        delivery = self.world.add_delivery(WECOM, kind, ref, plaintext=xml)
        query, body = self.envelope(xml)
        if not await self._attempt(http, url, query, body, delivery):
            task = asyncio.ensure_future(self._retry(http, url, query, body, delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return delivery

    async def _retry(self, http: aiohttp.ClientSession, url: str, query: dict[str, str],
                     body: str, delivery: dict[str, Any]) -> None:
        for _ in range(self.settings.wecom_retries):
            await asyncio.sleep(self.settings.wecom_retry_delay)
            if await self._attempt(http, url, query, body, delivery):
                return
        delivery["status"] = "failed"
        self.world.touch()

    async def _attempt(self, http: aiohttp.ClientSession, url: str, query: dict[str, str],
                       body: str, delivery: dict[str, Any]) -> bool:
        attempt: dict[str, Any] = {"time": self.world.now()}
        delivery["attempts"].append(attempt)
        started = time.perf_counter()
        timeout = aiohttp.ClientTimeout(total=self.settings.wecom_callback_timeout)
        try:
            async with http.post(url, params=query, data=body.encode(), timeout=timeout,
                                 headers={"Content-Type": "text/xml"}) as resp:
                attempt["status"] = resp.status
                attempt["answer"] = (await resp.text())[:500]
        except (aiohttp.ClientError, TimeoutError) as exc:
            attempt["error"] = type(exc).__name__
        attempt["elapsed_ms"] = round((time.perf_counter() - started) * 1000)
        ok = attempt.get("status") == 200
        delivery["status"] = "acked" if ok else "retrying"
        if ok:
            delivery["ack"] = {"status": 200, "body": attempt["answer"]}
        self.world.touch()
        return ok

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(set(self._tasks))


CALLBACKS = web.AppKey("sandbox_wecom_callbacks", CallbackSender)
