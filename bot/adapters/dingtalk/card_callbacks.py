"""HTTP mode: tell DingTalk where taps on our cards go (``/v1.0/card/callbacks/register``).

A card created with ``callbackType: "HTTP"`` names a ``callbackRouteKey``; DingTalk posts
its taps to the URL registered under that key, and to nobody when none is. So the bot
registers ``<public_url><http_callback_path>/card`` at every start, with ``forceUpdate`` so a
moved server takes the key over (several replicas registering the same URL is harmless).
The key is derived from the AppKey: two apps (a test and a production app, say) on one
tenant never take each other's taps.

Registration runs in the background until it succeeds (the listener must not wait for
DingTalk): network trouble is retried with backoff, a refusal (no permission, bad secret)
is logged once at ERROR with what to change, then retried slowly.

Source: https://open.dingtalk.com/document/orgapp/register-card-callback-address
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

from bot.adapters.dingtalk.client import DingTalkClient
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError

log = logging.getLogger("hrbot.adapter.dingtalk")

RETRY_FIRST_S = 2.0
RETRY_CAP_S = 600.0


def card_route_key(app_key: str) -> str:
    """The ``callbackRouteKey`` of this app's cards: stable, and different for each app."""
    return "hrbot-" + hashlib.sha256(app_key.encode()).hexdigest()[:16]


def card_callback_url(public_url: str, callback_path: str) -> str:
    """Where DingTalk posts card taps: the public base plus the card callback route."""
    return public_url.rstrip("/") + callback_path.rstrip("/") + "/card"


class CardCallbackRegistration:
    """Registers the card callback URL in a task: :meth:`start` it, :meth:`stop` it."""

    def __init__(
        self, client: DingTalkClient, *, callback_url: str, route_key: str, api_secret: str,
        first_delay: float = RETRY_FIRST_S, cap: float = RETRY_CAP_S,
    ) -> None:
        self.client = client
        self.callback_url = callback_url
        self.route_key = route_key
        self.api_secret = api_secret
        self.first_delay = first_delay
        self.cap = cap
        self.registered = asyncio.Event()
        self.attempts = 0
        self._task: asyncio.Task[None] | None = None

    async def register_once(self) -> bool:
        """One attempt; True once DingTalk accepted it."""
        self.attempts += 1
        try:
            await self.client.register_card_callback(
                callback_url=self.callback_url, route_key=self.route_key,
                api_secret=self.api_secret, force=True,
            )
        except TransientDeliveryError as err:
            log.warning("card callback registration: %s; trying again", err)
            return False
        except PlatformError as err:
            if self.attempts == 1:
                log.error(
                    "DingTalk refused to register the card callback URL %s (%s %s): taps on "
                    "cards reach nobody until it is fixed; check the app's 互动卡片 "
                    "permission (Card.Instance.Write) and run `hrbot doctor`",
                    self.callback_url, err.errcode, err.errmsg,
                )
            return False
        log.info("card callbacks registered: %s", self.callback_url)
        self.registered.set()
        return True

    async def run(self) -> None:
        """Attempt until it succeeds, backing off from ``first_delay`` up to ``cap``."""
        delay = self.first_delay
        while not await self.register_once():
            await asyncio.sleep(delay)
            delay = min(self.cap, delay * 2)

    def start(self) -> asyncio.Task[None]:
        """Run :meth:`run` in a task (idempotent) and return it."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="dingtalk-card-callbacks")
        return self._task

    async def stop(self, grace: float = 0.0) -> None:
        """Cancel the task, if it is still trying."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
