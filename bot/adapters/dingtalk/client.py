"""DingTalk OpenAPI client (``api.dingtalk.com``): token, robot messages, cards, to-dos.

New-style APIs answer errors with HTTP 4xx/5xx and a JSON ``code``/``message``; throttling,
5xx, timeouts and the anti-bot page are retryable (:class:`TransientDeliveryError`), the rest
is a :class:`PlatformError`. Tokens never appear in logs or error messages.

Every OpenAPI call (the token included) first waits for its API's slot in a
:class:`~bot.adapters.dingtalk.ratelimit.RateLimiter` (20 calls/s per app per API), so a
burst of outbox deliveries is spread out instead of being refused with
``QpsLimitForAppkeyAndApi``. sessionWebhook replies are not throttled here: their limit is
per conversation, not per API.

Sources:
    https://open.dingtalk.com/document/orgapp/obtain-the-access_token-of-an-internal-app
    https://open.dingtalk.com/document/orgapp/chatbots-send-one-on-one-chat-messages-in-batches
    https://open.dingtalk.com/document/development/create-and-deliver-cards
    https://open.dingtalk.com/document/development/interactive-card-update-interface
    https://open.dingtalk.com/document/development/event-callback-card (HTTP callbacks)
    https://open.dingtalk.com/document/development/add-dingtalk-to-do-task
    https://open.dingtalk.com/document/development/how-to-process-api-throttling-on-the-dingtalk-server
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from bot.adapters.dingtalk.api_errors import PLATFORM, check_errcode, error_for, json_object
from bot.adapters.dingtalk.ratelimit import DEFAULT_LIMIT, DEFAULT_WINDOW, RateLimiter
from bot.config.schema import DingTalkConfig
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from bot.pipeline.send_window import SendWindow

log = logging.getLogger("hrbot.adapter.dingtalk")

TOKEN_MARGIN = timedelta(seconds=300)
# The documented per-app, per-API figure, counted for the whole deployment when shared.
API_LIMITS = ((DEFAULT_LIMIT, DEFAULT_WINDOW),)
MAX_BATCH_USERS = 20
CARD_ALREADY_EXISTS = "param.cardAlreadyExist"
TOKEN_PATH = "/v1.0/oauth2/accessToken"
TODO_API = "/v1.0/todo/users/{unionId}/tasks"  # one API whatever the user in the path
TODO_SOURCE_API = "/v1.0/todo/users/{unionId}/tasks/sources/{sourceId}"
TODO_UPDATE_API = "/v1.0/todo/users/{unionId}/tasks/{taskId}"
# An app-secret reset or a token revoked early: the new API answers HTTP 400 (not only 401)
# {"code":"InvalidAuthentication","message":"不合法的access_token"}; the old oapi answers
# errcode 40014 (不合法的access_token), 42001 (access_token 超时) or 88 (same, some APIs).
INVALID_TOKEN_CODE = "InvalidAuthentication"
OAPI_TOKEN_ERRCODES = frozenset({"40014", "42001", "88"})


def _token_refused(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == INVALID_TOKEN_CODE


class CardNotDelivered(PlatformError):
    """The card instance exists but some space did not get it (per-space ``success: false``)."""


def _check_delivered(data: Mapping[str, Any]) -> None:
    result = given if isinstance(given := data.get("result"), dict) else {}
    failed = [
        r for r in result.get("deliverResults") or []
        if isinstance(r, dict) and r.get("success") is False
    ]
    if data.get("success") is False or failed:
        reason = "; ".join(f"{r.get('spaceType')}: {r.get('errorMsg')}" for r in failed)
        raise CardNotDelivered(PLATFORM, "deliver_failed", reason or "success=false")


@dataclass(frozen=True)
class BatchAnswer:
    """Who of a batchSend was throttled (try again later) or will never get it."""

    throttled: frozenset[str]
    unreached: frozenset[str]


class DingTalkClient:
    """Async client for the DingTalk calls the bot makes; one instance per app."""

    def __init__(
        self,
        config: DingTalkConfig,
        http: httpx.AsyncClient,
        clock: Callable[[], datetime],
        *,
        limiter: RateLimiter | None = None,
        meter: Callable[[str], Awaitable[None]] | None = None,
        window: SendWindow | None = None,
    ) -> None:
        self.config = config
        # Shared by every replica: the 20 QPS per API is the app's, not one process's.
        self.window = window
        # Told of every OpenAPI request that reached DingTalk (monthly quota counting).
        self.meter = meter
        self.http = http
        self.clock = clock
        # Per app: share one limiter between clients of the same app, if there are several.
        self.limiter = limiter or RateLimiter()
        self._base = config.api_base.rstrip("/")
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = asyncio.Lock()

    async def access_token(self, *, force: bool = False, stale: str | None = None) -> str:
        """The app's access token, cached until ``expireIn`` minus 5 minutes.

        ``stale``: a token DingTalk just refused; it is fetched anew only if it is still the
        cached one, so a burst of calls refused together refreshes it once, not once each.

        Raises:
            PlatformError: Wrong credentials (``invalidClientIdOrSecret``).
            TransientDeliveryError: Throttled, 5xx or network trouble.
        """
        async with self._token_lock:
            now = self.clock()
            if stale is not None and self._token and self._token != stale:
                return self._token
            if stale is not None:  # once per refused token, however many calls saw it
                log.warning("dingtalk refused the access token: fetching a new one")
            if not force and self._token and self._token_expires and now < self._token_expires:
                return self._token
            response = await self._send(
                "POST", TOKEN_PATH,
                {"appKey": self.config.app_key, "appSecret": self.config.app_secret}, None,
                api=TOKEN_PATH,
            )
            if response.status_code != 200:
                raise error_for(response)
            data = response.json()
            token, expire_in = data.get("accessToken"), data.get("expireIn")
            if not isinstance(token, str) or not isinstance(expire_in, int):
                raise PlatformError(PLATFORM, "bad_token_answer", "no accessToken/expireIn")
            self._token = token
            self._token_expires = now + timedelta(seconds=expire_in) - TOKEN_MARGIN
            return token

    async def _shared_slot(self, api: str) -> None:
        """Wait for a slot in the deployment-wide window of ``api`` (when one is wired)."""
        if self.window is None:
            return
        while (wait := await self.window.try_acquire(f"dingtalk:api:{api}", API_LIMITS)):
            await asyncio.sleep(wait)

    async def _send(
        self, method: str, url: str, body: Any, token: str | None,
        params: Mapping[str, str] | None = None, *, api: str | None,
    ) -> httpx.Response:
        """One HTTP request; ``api`` names the rate-limit bucket (None: not throttled)."""
        if api is not None:
            await self.limiter.acquire(api)
            await self._shared_slot(api)
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        target = url if url.startswith("http") else self._base + url
        try:
            response = await self.http.request(
                method, target, json=body, headers=headers, params=params, timeout=10.0
            )
        except httpx.TransportError as exc:  # timeouts, refused connections, resets
            raise TransientDeliveryError(f"dingtalk {method} {url}: {type(exc).__name__}") from exc
        if api is not None and self.meter is not None:
            await self.meter(api)
        return response

    async def call(
        self, method: str, path: str, body: Any = None, *,
        params: Mapping[str, str] | None = None, api: str | None = None,
    ) -> dict[str, Any]:
        """One authenticated call; a refused token is fetched anew and the call retried once.

        Each request waits for a slot of ``api`` (default ``path``); pass the path template
        when the path holds an id, so that all calls of one API share one limit.

        Raises:
            TransientDeliveryError: Retry later.
            PlatformError: Anything else that failed.
        """
        api = api or path
        token = await self.access_token()
        response = await self._send(method, path, body, token, params, api=api)
        if _token_refused(response):
            token = await self.access_token(force=True, stale=token)
            response = await self._send(method, path, body, token, params, api=api)
        if not 200 <= response.status_code < 300:
            raise error_for(response)
        return json_object(response, path)

    async def probe(
        self, method: str, path: str, body: Any = None, *, api: str | None = None,
    ) -> tuple[int, Any, str]:
        """One authenticated call that never raises on the answer: (status, JSON or None,
        the ``Date`` header), for ``hrbot doctor`` to read DingTalk's own error codes.

        Raises:
            TransientDeliveryError: Network trouble (no answer at all).
            PlatformError: No token (wrong credentials).
        """
        token = await self.access_token()
        response = await self._send(method, path, body, token, None, api=api or path)
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        return response.status_code, data, response.headers.get("date", "")

    async def oapi(
        self, method: str, path: str, body: Any = None, *,
        params: Mapping[str, str] | None = None, api: str | None = None,
    ) -> dict[str, Any]:
        """One old-style ``oapi.dingtalk.com`` call (token in the query, ``errcode`` answers).

        Errcodes 40014/42001/88 mean the token is no longer valid: it is fetched anew and
        the call repeated once.

        Raises:
            TransientDeliveryError: Throttled, 5xx, network trouble or an HTML answer.
            PlatformError: Any other non-zero errcode.
        """
        api = api or path
        url = self.config.oapi_base.rstrip("/") + path
        for attempt in range(2):
            token = await self.access_token()
            query = {**(params or {}), "access_token": token}
            response = await self._send(method, url, body, None, query, api=api)
            if response.status_code != 200:
                raise error_for(response)
            data = json_object(response, path)
            if str(data.get("errcode", 0)) in OAPI_TOKEN_ERRCODES and attempt == 0:
                await self.access_token(force=True, stale=token)
                continue
            check_errcode(data, path)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    async def batch_send(
        self, user_ids: Sequence[str], msg_key: str, msg_param: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Robot 1:1 messages to at most 20 users (``oToMessages/batchSend``).

        HTTP 200 is not delivery: users in ``flowControlledStaffIdList`` were throttled
        (transient), ``invalidStaffIdList``/``filteredStaffIdList`` will never get it.

        Raises:
            ValueError: No users or more than 20.
            TransientDeliveryError: Throttled (any user) or retryable failure.
            PlatformError: Invalid or filtered users, or another failure.
        """
        if not 0 < len(user_ids) <= MAX_BATCH_USERS:
            raise ValueError(f"batchSend takes 1..{MAX_BATCH_USERS} userIds")
        data = await self.call("POST", "/v1.0/robot/oToMessages/batchSend", {
            "robotCode": self.config.robot_code, "userIds": list(user_ids),
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False),
        })
        if data.get("flowControlledStaffIdList"):
            raise TransientDeliveryError("dingtalk batchSend: flow-controlled users")
        for key in ("invalidStaffIdList", "filteredStaffIdList"):
            if data.get(key):
                raise PlatformError(PLATFORM, key, f"{len(data[key])} user(s) not reached")
        return data

    async def batch_send_each(
        self, user_ids: Sequence[str], msg_key: str, msg_param: Mapping[str, Any]
    ) -> BatchAnswer:
        """``oToMessages/batchSend`` to at most 20 users, with who was not reached.

        Unlike :meth:`batch_send` it does not fail the whole call for some users: the answer
        names the throttled (``flowControlledStaffIdList``) and unreachable
        (``invalidStaffIdList``/``filteredStaffIdList``) ones, so each is settled on its own.
        Source: https://open.dingtalk.com/document/orgapp/chatbots-send-one-on-one-chat-messages-in-batches
        """
        if not 0 < len(user_ids) <= MAX_BATCH_USERS:
            raise ValueError(f"batchSend takes 1..{MAX_BATCH_USERS} userIds")
        data = await self.call("POST", "/v1.0/robot/oToMessages/batchSend", {
            "robotCode": self.config.robot_code, "userIds": list(user_ids),
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False),
        })
        unreached = [*(data.get("invalidStaffIdList") or ()),
                     *(data.get("filteredStaffIdList") or ())]
        return BatchAnswer(
            throttled=frozenset(str(u) for u in data.get("flowControlledStaffIdList") or ()),
            unreached=frozenset(str(u) for u in unreached),
        )

    async def message_file_url(self, download_code: str) -> str:
        """A short-lived download URL for a file someone sent the robot (its downloadCode)."""
        data = await self.call("POST", "/v1.0/robot/messageFiles/download", {
            "robotCode": self.config.robot_code, "downloadCode": download_code,
        })
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url.startswith("http"):
            raise PlatformError(PLATFORM, "bad_download_answer", "no downloadUrl")
        return url

    async def send_group(
        self, open_conversation_id: str, msg_key: str, msg_param: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Robot message to a group (``groupMessages/send``); returns ``processQueryKey``."""
        return await self.call("POST", "/v1.0/robot/groupMessages/send", {
            "robotCode": self.config.robot_code, "openConversationId": open_conversation_id,
            "msgKey": msg_key, "msgParam": json.dumps(msg_param, ensure_ascii=False),
        })

    async def reply_session(
        self, webhook: str, expires_at_ms: int, body: Mapping[str, Any]
    ) -> bool:
        """Reply through a message's sessionWebhook (no token); False if it cannot be used.

        Only webhooks under ``oapi_base`` are called (the URL comes from a payload) and only
        before ``sessionWebhookExpiredTime``; the caller then falls back to the OpenAPI.

        Raises:
            TransientDeliveryError: Throttled or retryable failure.
            PlatformError: ``errcode`` other than 0.
        """
        now_ms = int(self.clock().timestamp() * 1000)
        if not webhook.startswith(self.config.oapi_base.rstrip("/") + "/") or now_ms >= (
            expires_at_ms or 0
        ):
            return False
        response = await self._send("POST", webhook, dict(body), None, api=None)
        if response.status_code != 200:
            raise error_for(response)
        check_errcode(json_object(response, "sessionWebhook"), "sessionWebhook")
        return True

    async def create_and_deliver(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create and deliver an interactive card; an existing ``outTrackId`` counts as done.

        ``param.cardAlreadyExist`` is what a resend after a crash gets, so it is success
        (returns ``{"alreadyExisted": True}``). Each space's ``deliverResults`` is checked.

        Raises:
            TransientDeliveryError: Retry later.
            PlatformError: Rejected, or not delivered to some space.
        """
        try:
            data = await self.call("POST", "/v1.0/card/instances/createAndDeliver", dict(body))
        except PlatformError as err:
            if err.errcode == CARD_ALREADY_EXISTS:
                log.info("card %s already exists: treated as delivered", body.get("outTrackId"))
                return {"alreadyExisted": True}
            raise
        _check_delivered(data)
        return data

    async def deliver_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Deliver an existing card instance to its space again (``/card/instances/deliver``).

        Takes the same body as :meth:`create_and_deliver`; only the instance id, the space
        and the deliver models are sent.

        Raises:
            CardNotDelivered: The space refused it again.
        """
        keys = ("outTrackId", "openSpaceId", "userIdType",
                "imRobotOpenDeliverModel", "imGroupOpenDeliverModel")
        data = await self.call(
            "POST", "/v1.0/card/instances/deliver", {k: body[k] for k in keys if k in body}
        )
        _check_delivered(data)
        return data

    async def update_card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1.0/card/instances`` (merge by key as the body's cardUpdateOptions say)."""
        data = await self.call("PUT", "/v1.0/card/instances", dict(body))
        if data.get("success") is False or data.get("result") is False:
            raise PlatformError(PLATFORM, "update_failed", "card update not applied")
        return data

    async def register_card_callback(
        self, *, callback_url: str, route_key: str, api_secret: str, force: bool = True
    ) -> dict[str, Any]:
        """HTTP mode: where DingTalk posts taps on cards created with ``callbackRouteKey``.

        The first call inserts, later ones return the existing entry unless ``force``.
        ``api_secret`` signs the callbacks (``x-ddpaas-signature``).
        """
        return await self.call("POST", "/v1.0/card/callbacks/register", {
            "callbackUrl": callback_url, "callbackRouteKey": route_key,
            "apiSecret": api_secret, "forceUpdate": force,
        })

    async def create_todo(
        self, *, union_id: str, subject: str, source_id: str, app_url: str,
        pc_url: str | None = None, description: str = "", due_ms: int | None = None,
        executor_union_ids: Sequence[str] = (), priority: int = 20,
    ) -> str:
        """Create a DingTalk to-do for ``union_id`` (a unionId, not a userId); returns its id.

        Args:
            union_id: Owner and operator (path and ``operatorId``).
            subject: Title (≤1024 characters).
            source_id: Our idempotency id for this to-do.
            app_url: ``detailUrl.appUrl``, mandatory since 2024-02-01.
            pc_url: ``detailUrl.pcUrl``; defaults to ``app_url``.
            description: Details (≤4096 characters).
            due_ms: Due time in epoch milliseconds.
            executor_union_ids: Executors; defaults to the owner.
            priority: 10 low, 20 normal, 30 high, 40 urgent.
        """
        if not (union_id and subject and source_id and app_url):
            raise ValueError("union_id, subject, source_id and app_url are required")
        body: dict[str, Any] = {
            "sourceId": source_id, "subject": subject[:1024], "creatorId": union_id,
            "executorIds": list(executor_union_ids) or [union_id],
            "detailUrl": {"appUrl": app_url, "pcUrl": pc_url or app_url},
            "priority": priority, "isOnlyShowExecutor": True,
        }
        if description:
            body["description"] = description[:4096]
        if due_ms is not None:
            body["dueTime"] = due_ms
        path = f"/v1.0/todo/users/{quote(union_id, safe='')}/tasks"
        data = await self.call("POST", path, body, params={"operatorId": union_id}, api=TODO_API)
        task_id = data.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise PlatformError(PLATFORM, "bad_todo_answer", "no task id")
        return task_id

    async def find_todo_by_source(self, union_id: str, source_id: str) -> str | None:
        """The id of ``union_id``'s to-do created with ``source_id`` (None: there is none)."""
        path = (
            f"/v1.0/todo/users/{quote(union_id, safe='')}/tasks/sources/"
            f"{quote(source_id, safe='')}"
        )
        try:
            data = await self.call("GET", path, api=TODO_SOURCE_API)
        except PlatformError as err:
            code = str(err.errcode).lower()
            if code == "404" or "notfound" in code or "notexist" in code:
                return None
            raise
        task_id = data.get("id")
        return task_id if isinstance(task_id, str) and task_id else None

    async def complete_todo(self, union_id: str, task_id: str) -> None:
        """Mark a to-do done (``PUT …/tasks/{taskId}`` with ``done: true``)."""
        path = f"/v1.0/todo/users/{quote(union_id, safe='')}/tasks/{quote(task_id, safe='')}"
        await self.call(
            "PUT", path, {"done": True}, params={"operatorId": union_id}, api=TODO_UPDATE_API
        )
