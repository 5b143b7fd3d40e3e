"""WeCom server API over httpx: token, app messages, template card updates, 客户联系.

Every call carries the app's ``access_token``, fetched once and cached until shortly
before ``expires_in``. When WeCom answers that the token is expired or invalid
(42001/40014/40001) the token is fetched again and the call repeated once. ``errcode != 0``
raises :class:`~bot.core.errors.PlatformError`, except the throttling/busy codes, HTTP 5xx/429
and network failures, which raise :class:`~bot.pipeline.messenger.TransientDeliveryError` so the
outbox retries later. The token and the secret never reach a log line or an exception.
Setup errors that no retry can fix (60020 untrusted IP, 48002 no permission) are logged
once per process at ERROR with what to change in the admin console, later at DEBUG.

Sources:
    https://developer.work.weixin.qq.com/document/path/91039 (gettoken)
    https://developer.work.weixin.qq.com/document/path/90236 (message/send; invaliduser and
        unlicenseduser: "不区分大小写，统一转为小写")
    https://developer.work.weixin.qq.com/document/path/94888 (update_template_card)
    (客户联系 calls: see :mod:`bot.adapters.wecom.external`)
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bot.adapters.wecom.external import ExternalContactApi
from bot.config.schema import WeComConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from cards.models import Card
from cards.render_wecom import message_send_body, update_card_body

log = logging.getLogger("hrbot.adapter.wecom")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # bad/expired token: refresh and retry once
TRANSIENT_ERRORS = frozenset({-1, 45009, 45033})  # busy, rate limit, concurrency limit
TOKEN_MARGIN = timedelta(minutes=5)
# gettoken refused (wrong secret or corpid, untrusted IP …): WeCom blocks an IP that keeps
# asking with a wrong secret for an hour, so the next try waits 1 min, then 2, 4 … 30 min.
TOKEN_BACKOFF_FIRST = timedelta(minutes=1)
TOKEN_BACKOFF_CAP = timedelta(minutes=30)
# Fixed only by an admin in the WeCom console; the errmsg of 60020 names the calling IP.
SETUP_ERRORS = {
    60020: "the server's public IP is not trusted: add it to the app's 企业可信IP list "
           "(应用管理 → the app → 企业可信IP; takes about a minute)",
    48002: "the app lacks permission for this API: grant it in the admin console "
           "(API permission / 可调用接口的应用, and the members in the app's 可见范围)",
}
_setup_errors_reported: set[int] = set()  # per process: one ERROR line per code
_SECRET_IN_URL = re.compile(r"(access_token|corpsecret)=[^&\s\"']+")


class _RedactUrls(logging.Filter):
    """httpx logs each request URL at INFO; ours carry the token or the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _SECRET_IN_URL.search(message):
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1=***", message), ()
        return True


def _install_redaction() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactUrls())


@dataclass(frozen=True)
class SentMessage:
    """message/send result; ``response_code`` only for interactive cards (72 h, single use).

    WeCom still answers ``errcode 0`` when some recipients were not reached: those outside
    the app's visible range come back in ``invaliduser``, those without an interface licence
    (or with an expired one) in ``unlicenseduser``, both lower-cased whatever the case sent.
    """

    msgid: str
    response_code: str = ""
    invalid_users: tuple[str, ...] = ()
    unlicensed_users: tuple[str, ...] = ()

    def refusal(self, userid: str) -> str | None:
        """Why ``userid`` did not get the message (``invaliduser``/``unlicenseduser``), if so."""
        wanted = userid.lower()
        if wanted in self.invalid_users:
            return "invaliduser"
        if wanted in self.unlicensed_users:
            return "unlicenseduser"
        return None


class WeComClient(ExternalContactApi):
    """Async client for one WeCom app.

    Args:
        config: corp id, secret, agent id and ``api_base``.
        http: Shared ``httpx.AsyncClient`` (timeouts are configured there).
        clock: Current UTC time, for the token cache.
    """

    def __init__(
        self,
        config: WeComConfig,
        http: httpx.AsyncClient,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.clock = clock or (lambda: datetime.now(UTC))
        self._token = ""
        self._token_until = datetime.min.replace(tzinfo=UTC)
        self._token_lock = asyncio.Lock()
        self.token_refusals = 0  # gettoken refusals in a row (backoff; observability)
        self._token_retry_at = datetime.min.replace(tzinfo=UTC)
        _install_redaction()

    async def access_token(self) -> str:
        """The cached token, fetched again when (nearly) expired.

        Raises:
            TransientDeliveryError: gettoken was refused lately (wrong secret, untrusted
                IP …): not asked again before the backoff ends (``retry_after``), so the
                outbox holds its messages instead of hammering WeCom; or network trouble.
        """
        async with self._token_lock:
            if not self._token or self.clock() >= self._token_until:
                wait = (self._token_retry_at - self.clock()).total_seconds()
                if wait > 0:
                    raise TransientDeliveryError(
                        "wecom gettoken refused lately; not asking again yet", retry_after=wait
                    )
                data = await self._request(
                    "GET", "/cgi-bin/gettoken",
                    params={"corpid": self.config.corp_id, "corpsecret": self.config.secret},
                )
                self._note_token_answer(data)
                _raise_for(data, "gettoken")
                if not data.get("access_token"):
                    raise PlatformError("wecom", "no token", "gettoken answered no access_token")
                expires = data.get("expires_in")
                seconds = expires if isinstance(expires, int) and expires > 0 else 7200
                lifetime = timedelta(seconds=seconds)
                self._token = str(data["access_token"])
                self._token_until = self.clock() + lifetime - min(TOKEN_MARGIN, lifetime / 2)
            return self._token

    def _note_token_answer(self, data: dict[str, Any]) -> None:
        code = _errcode(data)
        if code == 0 or code in TRANSIENT_ERRORS:
            self.token_refusals = 0
            return
        self.token_refusals += 1
        backoff = min(TOKEN_BACKOFF_CAP, TOKEN_BACKOFF_FIRST * 2 ** (self.token_refusals - 1))
        self._token_retry_at = self.clock() + backoff
        if code in SETUP_ERRORS:
            _report_setup_error(code, "gettoken", str(data.get("errmsg", ""))[:200])
        else:
            log.error(
                "wecom gettoken refused (errcode %s, %s in a row): check [wecom] corp_id and "
                "secret (the app's Secret in 应用管理) and run `hrbot doctor`; next try in %d s",
                code, self.token_refusals, backoff.total_seconds(),
            )
        # Retryable for the outbox: once the secret is fixed the messages still go out.
        raise TransientDeliveryError(
            f"wecom gettoken refused: errcode {code}", retry_after=backoff.total_seconds()
        )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        """One API call with the token; errcodes in ``accept`` are returned, not raised."""
        for attempt in range(2):
            token = await self.access_token()
            data = await self._request(
                method, path, params={**(params or {}), "access_token": token}, json=json
            )
            code = _errcode(data)
            if code in TOKEN_ERRORS and attempt == 0:
                if self._token == token:  # not already replaced by a concurrent call
                    self._token = ""
                continue
            if code not in accept:
                _raise_for(data, path)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        json: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self.config.api_base.rstrip("/") + path
        try:
            response = await self.http.request(method, url, params=params, json=json)
        except httpx.TimeoutException:
            raise TransientDeliveryError(f"wecom {path}: timeout") from None
        except httpx.TransportError as err:
            raise TransientDeliveryError(f"wecom {path}: {type(err).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientDeliveryError(f"wecom {path}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PlatformError("wecom", f"http {response.status_code}", path)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise PlatformError("wecom", "bad response", f"{path} did not answer a JSON object")
        return data

    async def send_text(self, touser: Sequence[str], content: str) -> SentMessage:
        """Send a text app message to members (``|``-joined userids)."""
        return await self._send({"msgtype": "text", "text": {"content": content}}, touser)

    async def send_markdown(self, touser: Sequence[str], content: str) -> SentMessage:
        """Send a markdown app message (shown in the WeCom client only)."""
        return await self._send({"msgtype": "markdown", "markdown": {"content": content}}, touser)

    async def send_media(self, touser: Sequence[str], kind: str, media_id: str) -> SentMessage:
        """Send a file, image, voice or video WeCom already holds (a media id, valid 3 days)."""
        if kind not in ("file", "image", "voice", "video"):
            raise ValueError(f"not a media message type: {kind!r}")
        return await self._send({"msgtype": kind, kind: {"media_id": media_id}}, touser)

    async def _send(self, body: dict[str, Any], touser: Sequence[str]) -> SentMessage:
        payload = {
            "touser": "|".join(touser),
            "agentid": self.config.agent_id,
            **body,
            # A resend of the same JSON within 30 min (crash before we recorded it) is dropped.
            "enable_duplicate_check": 1,
            "duplicate_check_interval": 1800,
        }
        return _sent(await self.call("POST", "/cgi-bin/message/send", json=payload))

    async def send_template_card(
        self, *, touser: Sequence[str], card: Card, task_id: str, card_url: str | None = None
    ) -> SentMessage:
        """Send ``card`` as a template card; the result carries its ``response_code``."""
        body = message_send_body(
            card=card, task_id=task_id, agent_id=self.config.agent_id, touser=touser,
            card_url=card_url,
        )
        return _sent(await self.call("POST", "/cgi-bin/message/send", json=body))

    async def update_template_card(
        self, response_code: str, userids: Sequence[str], card: Card
    ) -> tuple[str, ...]:
        """Replace a sent card for ``userids`` (uses up ``response_code``); invalid users back.

        Raises:
            PlatformError: e.g. 60140 when the code is used up or expired.
        """
        body = update_card_body(
            card=card, agent_id=self.config.agent_id, userids=userids,
            response_code=response_code,
        )
        data = await self.call("POST", "/cgi-bin/message/update_template_card", json=body)
        return _user_list(data.get("invaliduser"))


def _errcode(data: dict[str, Any]) -> int:
    code = data.get("errcode", 0)
    return code if isinstance(code, int) else -2  # not a number: treat as a plain error


def _raise_for(data: dict[str, Any], what: str) -> None:
    code = _errcode(data)
    if code == 0:
        return
    errmsg = str(data.get("errmsg", ""))[:200]
    if code in TRANSIENT_ERRORS:
        raise TransientDeliveryError(f"wecom {what}: errcode {code}: {errmsg}")
    if code in SETUP_ERRORS:
        _report_setup_error(code, what, errmsg)
    raise PlatformError("wecom", code, f"{what}: {errmsg}")


def _report_setup_error(code: int, what: str, errmsg: str) -> None:
    errmsg = _SECRET_IN_URL.sub(r"\1=***", errmsg)
    if code in _setup_errors_reported:
        log.debug("wecom %s: errcode %s again (%s)", what, code, errmsg)
        return
    _setup_errors_reported.add(code)
    log.error(
        "wecom errcode %s on %s: %s; these calls fail until it is fixed. WeCom said: %s",
        code, what, SETUP_ERRORS[code], errmsg,
    )


def _user_list(raw: Any) -> tuple[str, ...]:
    """Lower-cased userids from ``"a|b"`` (message/send) or ``["a"]`` (update_template_card)."""
    items = raw.split("|") if isinstance(raw, str) else raw if isinstance(raw, list) else ()
    return tuple(str(u).lower() for u in items if u)


def _sent(data: dict[str, Any]) -> SentMessage:
    return SentMessage(
        msgid=str(data.get("msgid", "")),
        response_code=str(data.get("response_code") or ""),
        invalid_users=_user_list(data.get("invaliduser")),
        unlicensed_users=_user_list(data.get("unlicenseduser")),
    )
