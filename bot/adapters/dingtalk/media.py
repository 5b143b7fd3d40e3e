"""Media on DingTalk: pictures that go with a card, files forwarded from one person to another.

The picture is uploaded as media (``oapi /media/upload``, the app's access token), and its
``media_id`` is sent by the robot as a ``sampleImageMsg`` right after the card: to the person
(``oToMessages/batchSend``) or to the group (``groupMessages/send``). The card carries the
same facts in words, so a picture that cannot be sent is logged and skipped rather than
holding the card back.

Sources:
    https://open.dingtalk.com/document/orgapp/upload-media-files
    https://open.dingtalk.com/document/orgapp/types-of-messages-sent-by-robots (sampleImageMsg,
        sampleFile {mediaId, fileName, fileType})
    https://open.dingtalk.com/document/orgapp/download-the-file-content-of-the-robot-receiving-message
"""

from __future__ import annotations

import logging

import httpx

from bot.adapters.dingtalk.api_errors import PLATFORM, check_errcode, json_object
from bot.adapters.dingtalk.client import OAPI_TOKEN_ERRCODES, DingTalkClient
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
    return await upload_media(client, png, filename, kind="image", content_type="image/png")


async def upload_media(
    client: DingTalkClient, content: bytes, filename: str, *, kind: str, content_type: str
) -> str:
    """Upload ``content`` as media of ``kind`` (image, file, voice, video); its ``media_id``.

    A token DingTalk no longer accepts (errcode 40014/42001/88) is fetched anew once.

    Raises:
        PlatformError: DingTalk refused it.
        TransientDeliveryError: Network trouble, a 5xx or an answer that is not JSON.
    """
    url = client.config.oapi_base.rstrip("/") + UPLOAD_PATH
    for attempt in range(2):
        token = await client.access_token()
        try:
            response = await client.http.post(
                url, params={"access_token": token, "type": kind},
                files={"media": (filename, content, content_type)}, timeout=30.0,
            )
        except httpx.TransportError as err:
            raise TransientDeliveryError(f"dingtalk media upload: {type(err).__name__}") from None
        if response.status_code >= 500:
            raise TransientDeliveryError(f"dingtalk media upload: HTTP {response.status_code}")
        if response.status_code != 200:
            raise PlatformError(PLATFORM, response.status_code, "media upload refused")
        data = json_object(response, UPLOAD_PATH)
        code = data.get("errcode", 0)
        if str(code) in OAPI_TOKEN_ERRCODES and attempt == 0:
            await client.access_token(force=True, stale=token)
            continue
        break
    check_errcode(data, UPLOAD_PATH)
    media_id = data.get("media_id")
    if not isinstance(media_id, str) or not media_id:
        raise PlatformError(PLATFORM, "no media_id", "media upload refused")
    return media_id


MAX_FILE_BYTES = 20 * 1024 * 1024  # DingTalk's media limit for files (images: 1 MB)


async def reupload_received_file(
    client: DingTalkClient, download_code: str, filename: str, kind: str
) -> tuple[str, dict[str, str]]:
    """A file someone sent the robot, uploaded again as the app's own media.

    The ``downloadUrl`` DingTalk gives for a received file expires soon, so forwarding it
    as a link would leave the recipient (or a delayed send) with a dead link; a media id is
    a file the robot sends as a message of its own. Returns ``(msgKey, msgParam)``.

    Raises:
        PlatformError: The file is too big, gone, or DingTalk refused the upload.
        TransientDeliveryError: Network trouble or a 5xx.
    """
    url = await client.message_file_url(download_code)
    try:
        response = await client.http.get(url, timeout=60.0)
    except httpx.TransportError as err:
        raise TransientDeliveryError(f"dingtalk file download: {type(err).__name__}") from None
    if response.status_code >= 500:
        raise TransientDeliveryError(f"dingtalk file download: HTTP {response.status_code}")
    if response.status_code != 200:
        raise PlatformError(PLATFORM, "file_gone", f"download answered {response.status_code}")
    content = response.content
    if len(content) > MAX_FILE_BYTES:
        raise PlatformError(PLATFORM, "file_too_big", f"{len(content)} bytes")
    name = filename or "file"
    if kind == "image":
        media_id = await upload_media(
            client, content, name, kind="image", content_type="application/octet-stream"
        )
        return "sampleImageMsg", {"photoURL": media_id}
    media_id = await upload_media(
        client, content, name, kind="file", content_type="application/octet-stream"
    )
    file_type = name.rsplit(".", 1)[-1].lower() if "." in name else "file"
    return "sampleFile", {"mediaId": media_id, "fileName": name, "fileType": file_type}


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
