"""Pictures that go with a card (``Card.image``) on DingTalk: upload, then an image message.

The picture is uploaded as media (``oapi /media/upload``, the app's access token), and its
``media_id`` is sent by the robot as a ``sampleImageMsg`` right after the card: to the person
(``oToMessages/batchSend``) or to the group (``groupMessages/send``). The card carries the
same facts in words, so a picture that cannot be sent is logged and skipped rather than
holding the card back.

Sources:
    https://open.dingtalk.com/document/orgapp/upload-media-files
    https://open.dingtalk.com/document/orgapp/types-of-messages-sent-by-robots (sampleImageMsg)
"""

from __future__ import annotations

import logging

import httpx

from bot.adapters.dingtalk.api_errors import PLATFORM
from bot.adapters.dingtalk.client import DingTalkClient
from bot.core.errors import PlatformError
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.pipeline.ports import ChartLoader

log = logging.getLogger("hrbot.adapter.dingtalk")

UPLOAD_PATH = "/media/upload"


async def upload_image(client: DingTalkClient, png: bytes, filename: str = "chart.png") -> str:
    """Upload a PNG as media; returns its ``media_id`` (``@lA…``).

    Raises:
        PlatformError: DingTalk refused it.
        TransientDeliveryError: Network trouble or a 5xx.
    """
    token = await client.access_token()
    url = client.config.oapi_base.rstrip("/") + UPLOAD_PATH
    try:
        response = await client.http.post(
            url, params={"access_token": token, "type": "image"},
            files={"media": (filename, png, "image/png")}, timeout=20.0,
        )
    except httpx.TransportError as err:
        raise TransientDeliveryError(f"dingtalk media upload: {type(err).__name__}") from None
    if response.status_code >= 500:
        raise TransientDeliveryError(f"dingtalk media upload: HTTP {response.status_code}")
    data = response.json() if response.status_code == 200 else {}
    media_id = data.get("media_id") if isinstance(data, dict) else None
    if not isinstance(media_id, str) or not media_id or data.get("errcode", 0) != 0:
        code = data.get("errcode") if isinstance(data, dict) else response.status_code
        raise PlatformError(PLATFORM, code or "no media_id", "media upload refused")
    return media_id


class DingTalkCardImages:
    """Sends the picture a card refers to, right after the card, to the same place."""

    def __init__(self, client: DingTalkClient, charts: ChartLoader) -> None:
        self.client = client
        self.charts = charts

    async def send(self, message: OutboundMessage) -> bool:
        """True when the picture went out; False when it was skipped (logged)."""
        ref = message.card.image
        png = await self.charts.load_chart(ref)
        if png is None:
            log.warning("card image %s is gone; sent the card without it", ref)
            return False
        try:
            media_id = await upload_image(self.client, png)
            params = {"photoURL": media_id}
            if message.target_kind == "conversation" and message.group:
                await self.client.send_group(message.target, "sampleImageMsg", params)
            else:
                await self.client.batch_send([message.target], "sampleImageMsg", params)
        except (PlatformError, TransientDeliveryError) as err:
            log.warning("card image %s not sent: %s", ref, err)
            return False
        return True
