"""Pictures that go with a card (``Card.image``) on WeCom: upload, then an image message.

WeCom cannot put an uploaded picture inside a template card or markdown, so the picture
follows the card as its own ``image`` app message. Media ids live three days, so each send
uploads afresh. The card already carries the same facts in words: a picture that cannot be
sent is logged and skipped rather than holding the card back or sending it twice.

Sources:
    https://developer.work.weixin.qq.com/document/path/90253 (上传临时素材)
    https://developer.work.weixin.qq.com/document/path/90236 (发送应用消息: image)
"""

from __future__ import annotations

import logging

import httpx

from bot.adapters.wecom.client import WeComClient
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from bot.pipeline.ports import ChartLoader

log = logging.getLogger("hrbot.adapter.wecom")

UPLOAD_PATH = "/cgi-bin/media/upload"


async def upload_image(client: WeComClient, png: bytes, filename: str = "chart.png") -> str:
    """Upload a PNG as temporary media; returns its ``media_id``.

    Raises:
        PlatformError: WeCom refused it.
        TransientDeliveryError: Network trouble or a 5xx.
    """
    token = await client.access_token()
    url = client.config.api_base.rstrip("/") + UPLOAD_PATH
    try:
        response = await client.http.post(
            url, params={"access_token": token, "type": "image"},
            files={"media": (filename, png, "image/png")},
        )
    except httpx.TransportError as err:
        raise TransientDeliveryError(f"wecom media upload: {type(err).__name__}") from None
    if response.status_code >= 500:
        raise TransientDeliveryError(f"wecom media upload: HTTP {response.status_code}")
    data = response.json() if response.status_code == 200 else {}
    media_id = data.get("media_id") if isinstance(data, dict) else None
    if not isinstance(media_id, str) or not media_id:
        code = data.get("errcode") if isinstance(data, dict) else response.status_code
        raise PlatformError("wecom", code or "no media_id", "media upload refused")
    return media_id


class WeComCardImages:
    """Sends the picture a card refers to, right after the card, to the same member."""

    def __init__(self, client: WeComClient, charts: ChartLoader) -> None:
        self.client = client
        self.charts = charts

    async def send(self, target: str, ref: str) -> bool:
        """True when the picture went out; False when it was skipped (logged)."""
        png = await self.charts.load_chart(ref)
        if png is None:
            log.warning("card image %s is gone; sent the card without it", ref)
            return False
        try:
            media_id = await upload_image(self.client, png)
            await self.client.send_media([target], "image", media_id)
        except (PlatformError, TransientDeliveryError) as err:
            log.warning("card image %s not sent: %s", ref, err)
            return False
        return True
