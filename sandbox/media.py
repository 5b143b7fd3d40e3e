"""Fake media uploads of both platforms, and the page's way to show what was uploaded.

The bot uploads a picture (the ``统计`` chart) or a file, then sends its ``media_id`` in an
image or file message; the page draws it from ``/sandbox/media/{media_id}``. Uploads are
multipart with the file in the ``media`` field on both platforms.

Sources:
    https://open.dingtalk.com/document/orgapp/upload-media-files (oapi ``/media/upload``)
    https://developer.work.weixin.qq.com/document/path/90253 (``/cgi-bin/media/upload``)
"""

from __future__ import annotations

import uuid
from email.parser import BytesParser
from email.policy import HTTP as HTTP_POLICY
from urllib.parse import quote, unquote

from aiohttp import web

from sandbox.fake_wecom import token_error
from sandbox.state import DINGTALK, WECOM, Media
from sandbox.wire import WORLD, answer, wecom_answer

MEDIA_TYPES = ("image", "voice", "video", "file")
MAX_MEDIA_BYTES = 20 * 1024 * 1024  # WeCom's limit for files; images are smaller still


def media_part(content_type: str, body: bytes) -> tuple[str, bytes, str] | None:
    """(filename, bytes, content type) of the ``media`` field of a multipart body."""
    if not content_type.startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP_POLICY).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "media":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                # Clients send a UTF-8 name raw (httpx) or percent-encoded (aiohttp).
                return (unquote(part.get_filename() or "media"), data,
                        part.get_content_type() or "application/octet-stream")
    return None


async def _stored(request: web.Request, platform: str) -> Media | str:
    """The uploaded media, kept in the world; or what is wrong with the upload."""
    kind = request.query.get("type", "")
    if kind not in MEDIA_TYPES:
        return "type 必须是 image/voice/video/file"
    part = media_part(request.headers.get("Content-Type", ""), await request.read())
    if part is None or not part[1]:
        return "缺少 media 文件"
    if len(part[1]) > MAX_MEDIA_BYTES:
        return "文件过大"
    world = request.app[WORLD]
    prefix = "@lA" if platform == DINGTALK else "3"
    media = Media(id=prefix + uuid.uuid4().hex, platform=platform, kind=kind,
                  filename=part[0], content=part[1], content_type=part[2])
    world.media[media.id] = media
    return media


async def dingtalk_upload(request: web.Request) -> web.Response:
    """``POST /media/upload?access_token=&type=`` (old-style API: errors are errcode)."""
    world = request.app[WORLD]
    if world.token_state(DINGTALK, request.query.get("access_token", "")) != "valid":
        return answer({"errcode": 40014, "errmsg": "不合法的access_token"})
    media = await _stored(request, DINGTALK)
    if isinstance(media, str):
        return answer({"errcode": 40004, "errmsg": media})
    return answer({"errcode": 0, "errmsg": "ok", "type": media.kind, "media_id": media.id,
                   "created_at": int(world.now() * 1000)})


async def wecom_upload(request: web.Request) -> web.Response:
    """``POST /cgi-bin/media/upload?access_token=&type=``: temporary media, three days."""
    refused = token_error(request)
    if refused is not None:
        return refused
    world = request.app[WORLD]
    media = await _stored(request, WECOM)
    if isinstance(media, str):
        return wecom_answer(40004 if "type" in media else 41005, media)
    return wecom_answer(errmsg="", type=media.kind, media_id=media.id,
                        created_at=str(int(world.now())))


async def show(request: web.Request) -> web.Response:
    """``GET /sandbox/media/{media_id}``: the uploaded bytes, for the page to draw."""
    media = request.app[WORLD].media.get(request.match_info["media_id"])
    if media is None:
        raise web.HTTPNotFound(text="未知媒体文件")
    disposition = "inline" if media.kind == "image" else "attachment"
    return web.Response(body=media.content, content_type=media.content_type, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{_quoted(media.filename)}",
        "Cache-Control": "private, max-age=3600"})


def _quoted(name: str) -> str:
    return quote(name, safe="")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/media/upload", dingtalk_upload)
    app.router.add_post("/cgi-bin/media/upload", wecom_upload)
    app.router.add_get("/sandbox/media/{media_id}", show)


