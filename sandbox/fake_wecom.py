"""Fake WeCom server API: token, app messages, template card updates, 客户联系.

Everything answers HTTP 200 with ``errcode``/``errmsg``. Tokens come from ``gettoken`` and
expire after ``expires_in`` on the sandbox clock (42001 afterwards). Template cards keep one
copy per recipient; ``response_code`` values are single use for 72 h (60140 otherwise).
An ``add_msg_template`` task stays unsent (41063 on its send result) until the sender taps
"确认发送" in the emulator.

Sources:
    https://developer.work.weixin.qq.com/document/path/91039 (gettoken)
    https://developer.work.weixin.qq.com/document/path/90227 (agent/get)
    https://developer.work.weixin.qq.com/document/path/90236 (message/send)
    https://developer.work.weixin.qq.com/document/path/94888 (update_template_card)
    https://developer.work.weixin.qq.com/document/path/92135 (add_msg_template)
    https://developer.work.weixin.qq.com/document/path/93338 (get_groupmsg_send_result)
    https://developer.work.weixin.qq.com/document/path/92114 (externalcontact/get)
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from aiohttp import web

from sandbox.state import BOT, WECOM, MassTask, World, dm_key
from sandbox.wecom_cards import send_template_card, update_template_card
from sandbox.wire import SETTINGS, WORLD, json_object, wecom_answer

TOKEN_LIFETIME = 7200
MAX_DUPLICATE_WINDOW = 4 * 3600


async def get_token(request: web.Request) -> web.Response:
    """``GET /cgi-bin/gettoken?corpid=&corpsecret=``."""
    settings, world = request.app[SETTINGS], request.app[WORLD]
    if request.query.get("corpid") != settings.wecom_corp_id:
        return wecom_answer(40013, "invalid corpid")
    secret = request.query.get("corpsecret", "")
    if not secret or settings.wecom_secret not in (None, secret):
        return wecom_answer(40001, "invalid credential")
    token = uuid.uuid4().hex + uuid.uuid4().hex
    world.issue_token(WECOM, token, TOKEN_LIFETIME)
    return wecom_answer(access_token=token, expires_in=TOKEN_LIFETIME)


async def agent_get(request: web.Request) -> web.Response:
    """``GET /cgi-bin/agent/get?agentid=``: the app and its visible range (all members)."""
    refused = token_error(request)
    if refused is not None:
        return refused
    if request.query.get("agentid") != str(request.app[SETTINGS].wecom_agent_id):
        return wecom_answer(40056, "invalid agentid")
    members = [p.wecom_userid for p in request.app[WORLD].directory.people if p.wecom_userid]
    return wecom_answer(
        agentid=request.app[SETTINGS].wecom_agent_id, name="hrbot", close=0,
        allow_userinfos={"user": [{"userid": u} for u in members]},
        allow_partys={"partyid": []}, allow_tags={"tagid": []},
    )


def token_error(request: web.Request) -> web.Response | None:
    token = request.query.get("access_token", "")
    if not token:
        return wecom_answer(41001, "access_token missing")
    state = request.app[WORLD].token_state(WECOM, token)
    if state == "expired":
        return wecom_answer(42001, "access_token expired")
    return None if state == "valid" else wecom_answer(40014, "invalid access_token")


def agent_error(request: web.Request, body: dict[str, Any]) -> web.Response | None:
    if body.get("agentid") != request.app[SETTINGS].wecom_agent_id:
        return wecom_answer(40056, "invalid agentid")
    return None


def _duplicate(world: World, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(body digest, earlier answer) when duplicate checking drops this send."""
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if body.get("enable_duplicate_check") != 1:
        return digest, None
    window = min(int(body.get("duplicate_check_interval") or 1800), MAX_DUPLICATE_WINDOW)
    earlier = world.sent_bodies.get(digest)
    if earlier is not None and world.now() - earlier[0] < window:
        return digest, earlier[1]
    return digest, None


async def message_send(request: web.Request) -> web.Response:
    """``POST /cgi-bin/message/send``: text, markdown and template cards to members."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    refused = agent_error(request, body)
    if refused is not None:
        return refused
    world = request.app[WORLD]
    digest, earlier = _duplicate(world, body)
    if earlier is not None:
        return wecom_answer(**earlier)
    touser = str(body.get("touser") or "")
    people = world.directory.people
    names = [p.wecom_userid for p in people if p.wecom_userid] if touser == "@all" \
        else [u for u in touser.split("|") if u]
    invalid = [u for u in names if world.directory.by_wecom_user(u) is None]
    valid = [u for u in names if u not in invalid]
    if not valid:
        return wecom_answer(81013, "user & party & tag all invalid")
    msgtype, msgid = body.get("msgtype"), "msg" + uuid.uuid4().hex[:24]
    fields: dict[str, Any] = {"msgid": msgid}
    if invalid:
        fields["invaliduser"] = "|".join(invalid)
    # Over a member's limit WeCom still answers ok; the message just never arrives.
    valid = world.limits.wecom_admit(valid, world.now())
    if msgtype == "template_card":
        error, extra = send_template_card(world, body.get("template_card"), valid, msgid)
        if error is not None:
            return wecom_answer(*error)
        fields.update(extra)
    else:
        content = body.get(msgtype) if isinstance(msgtype, str) else None
        media = ""
        if msgtype in ("text", "markdown") and isinstance(content, dict) \
                and isinstance(content.get("content"), str):
            kind, text = str(msgtype), content["content"]
        elif msgtype in ("image", "file") and isinstance(content, dict):
            found = world.media.get(str(content.get("media_id", "")))
            if found is None:
                return wecom_answer(40007, "invalid media_id")
            kind, text, media = str(msgtype), found.filename, found.id
        elif isinstance(msgtype, str) and isinstance(content, dict):
            kind, text = "text", f"[{msgtype}]"
        else:
            return wecom_answer(40008, "invalid message type")
        for userid in valid:
            person = world.directory.by_wecom_user(userid)
            if person is not None:
                world.add_message(WECOM, dm_key(person.id), kind, BOT, text=text, media=media)
    world.sent_bodies[digest] = (world.now(), fields)
    return wecom_answer(**fields)


async def update_card(request: web.Request) -> web.Response:
    """``POST /cgi-bin/message/update_template_card``."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    refused = agent_error(request, body)
    if refused is not None:
        return refused
    error, invalid = update_template_card(request.app[WORLD], body)
    if error is not None:
        return wecom_answer(*error)
    return wecom_answer(invaliduser=invalid)


async def add_msg_template(request: web.Request) -> web.Response:
    """``POST /cgi-bin/externalcontact/add_msg_template``: a task the sender must confirm."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    world = request.app[WORLD]
    if body.get("chat_type", "single") != "single":
        return wecom_answer(40058, "sandbox supports chat_type single only")
    sender = world.directory.by_wecom_user(str(body.get("sender", "")))
    if sender is None:
        return wecom_answer(60111, "userid not found")
    targets = body.get("external_userid")
    text = given if isinstance(given := body.get("text"), dict) else {}
    attachments = body.get("attachments") or []
    if not isinstance(targets, list) or not 1 <= len(targets) <= 10_000:
        return wecom_answer(40058, "external_userid must list 1..10000 customers")
    if len(str(text.get("content", "")).encode()) > 4000 or not isinstance(attachments, list) \
            or len(attachments) > 9:
        return wecom_answer(40058, "text.content over 4000 bytes or more than 9 attachments")

    def follows(ext: str) -> bool:
        candidate = world.candidates.get(ext)
        return candidate is not None and any(
            f["userid"] == sender.wecom_userid for f in candidate.follow)

    valid = [str(t) for t in targets if follows(str(t))]
    failed = [str(t) for t in targets if not follows(str(t))]
    msgid = "msg" + uuid.uuid4().hex[:26]
    world.tasks[msgid] = MassTask(msgid, sender.wecom_userid, sender.id, valid, failed,
                                  str(text.get("content", "")), list(attachments), world.now())
    world.touch()
    return wecom_answer(fail_list=failed, msgid=msgid)


def _page(rows: list[dict[str, Any]], body: dict[str, Any]) -> tuple[list[Any], str]:
    limit = asked if isinstance(asked := body.get("limit"), int) else 500
    limit = max(1, min(limit, 1000))
    cursor = str(body.get("cursor") or "0")
    start = int(cursor) if re.fullmatch(r"\d+", cursor) else 0
    end = start + limit
    return rows[start:end], str(end) if end < len(rows) else ""


async def groupmsg_send_result(request: web.Request) -> web.Response:
    """``POST /cgi-bin/externalcontact/get_groupmsg_send_result``."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    task = request.app[WORLD].tasks.get(str(body.get("msgid", "")))
    if task is None:
        return wecom_answer(40058, "invalid msgid")
    if task.status != "sent":
        return wecom_answer(41063, "group msg task is being dispatched, retry later")
    send_time = int(task.send_time or 0)
    rows = [] if body.get("userid") != task.sender else [
        {"external_userid": ext, "userid": task.sender, "status": 1, "send_time": send_time}
        for ext in task.external_userids
    ] + [{"external_userid": ext, "userid": task.sender, "status": 2, "send_time": 0}
         for ext in task.fail_list]
    page, cursor = _page(rows, body)
    return wecom_answer(next_cursor=cursor, send_list=page)


async def groupmsg_task(request: web.Request) -> web.Response:
    """``POST /cgi-bin/externalcontact/get_groupmsg_task``."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    task = request.app[WORLD].tasks.get(str(body.get("msgid", "")))
    if task is None:
        return wecom_answer(40058, "invalid msgid")
    row = {"userid": task.sender, "status": 2 if task.status == "sent" else 0,
           "send_time": int(task.send_time or 0)}
    return wecom_answer(next_cursor="", task_list=[row])


async def external_contact(request: web.Request) -> web.Response:
    """``GET /cgi-bin/externalcontact/get?external_userid=``."""
    refused = token_error(request)
    if refused is not None:
        return refused
    candidate = request.app[WORLD].candidates.get(request.query.get("external_userid", ""))
    if candidate is None:
        return wecom_answer(40096, "invalid external userid")
    contact = {"external_userid": candidate.external_userid, "name": candidate.name,
               "type": 1, "gender": 0, "avatar": ""}
    return wecom_answer(external_contact=contact, follow_user=candidate.follow, next_cursor="")


WELCOME_SECONDS = 20


async def send_welcome_msg(request: web.Request) -> web.Response:
    """``POST /cgi-bin/externalcontact/send_welcome_msg``: the code is single use, for 20 s."""
    refused = token_error(request)
    body = await json_object(request)
    if refused is not None or body is None:
        return refused or wecom_answer(40058, "invalid json")
    world = request.app[WORLD]
    issued = world.welcome_codes.pop(str(body.get("welcome_code", "")), None)
    if issued is None or world.now() - issued[2] > WELCOME_SECONDS:
        return wecom_answer(41051, "invalid welcome_code")
    employee, external, _ = issued
    text = given if isinstance(given := body.get("text"), dict) else {}
    candidate = world.candidates.get(external)
    if candidate is None or not str(text.get("content", "")).strip():
        return wecom_answer(40058, "invalid text")
    sender = world.directory.person(employee)
    candidate.received.append({
        "msgid": f"welcome-{len(candidate.received) + 1}", "from_userid": employee,
        "from_name": sender.name if sender else employee, "text": str(text["content"]),
        "attachments": [], "time": world.now(),
    })
    world.touch()
    return wecom_answer()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/cgi-bin/gettoken", get_token)
    app.router.add_get("/cgi-bin/agent/get", agent_get)
    app.router.add_post("/cgi-bin/message/send", message_send)
    app.router.add_post("/cgi-bin/message/update_template_card", update_card)
    app.router.add_post("/cgi-bin/externalcontact/add_msg_template", add_msg_template)
    app.router.add_post("/cgi-bin/externalcontact/get_groupmsg_send_result",
                        groupmsg_send_result)
    app.router.add_post("/cgi-bin/externalcontact/get_groupmsg_task", groupmsg_task)
    app.router.add_get("/cgi-bin/externalcontact/get", external_contact)
    app.router.add_post("/cgi-bin/externalcontact/send_welcome_msg", send_welcome_msg)
