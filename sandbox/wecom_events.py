"""What people do in the fake WeCom client, turned into WeCom callbacks to the bot.

Typing in the app chat sends a text message callback; tapping a card button sends a
``template_card_event`` with the button's key, the card's task_id and a fresh single-use
ResponseCode; a candidate adding an employee sends ``change_external_contact``. An
employee confirming a mass-send task delivers its text to the candidates.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from aiohttp import web

from sandbox.org import Person
from sandbox.state import Candidate, CardState, MassTask, World
from sandbox.wecom_callback import (
    CALLBACKS,
    card_event_xml,
    contact_added_xml,
    text_message_xml,
)
from sandbox.wecom_cards import issue_response_code, selected_items
from sandbox.wire import HTTP, SETTINGS, WORLD


async def say(request: web.Request, person: Person, text: str) -> dict[str, Any]:
    """A text message in the app's 1:1 chat; returns the callback delivery record."""
    settings, world = request.app[SETTINGS], request.app[WORLD]
    msg_id = str(random.randint(10**18, 10**19 - 1))
    xml = text_message_xml(corp_id=settings.wecom_corp_id, userid=person.wecom_userid,
                           text=text, msg_id=msg_id, agent_id=settings.wecom_agent_id,
                           created=int(world.now()))
    return await request.app[CALLBACKS].deliver(request.app[HTTP], xml, "text_message", msg_id)


async def tap(request: web.Request, person: Person, card: CardState,
              button: dict[str, Any]) -> dict[str, Any]:
    """A click on a card button: ``template_card_event`` with a new ResponseCode."""
    settings, world = request.app[SETTINGS], request.app[WORLD]
    task_id = str(card.meta.get("task_id", ""))
    code = issue_response_code(world, task_id, [person.wecom_userid])
    xml = card_event_xml(
        corp_id=settings.wecom_corp_id, userid=person.wecom_userid, created=int(world.now()),
        event_key=button["id"], task_id=task_id, card_type=str(card.meta.get("card_type", "")),
        response_code=code, agent_id=settings.wecom_agent_id, selected=selected_items(card),
    )
    return await request.app[CALLBACKS].deliver(request.app[HTTP], xml, "template_card_event",
                                                task_id)


def add_candidate(world: World, employee: Person, name: str, state: str = "",
                  mobile: str = "", external_userid: str = "") -> Candidate:
    """Make ``name`` an external contact of ``employee`` (or add another follower)."""
    ext = external_userid or "wm" + uuid.uuid4().hex[:26]
    candidate = world.candidates.get(ext) or Candidate(ext, name, mobile)
    world.candidates[ext] = candidate
    follow = {"userid": employee.wecom_userid, "remark": name, "description": "",
              "createtime": int(world.now()), "state": state, "add_way": 1,
              "oper_userid": ext, "remark_mobiles": [mobile] if mobile else []}
    candidate.follow = [f for f in candidate.follow if f["userid"] != employee.wecom_userid]
    candidate.follow.append(follow)
    world.touch()
    return candidate


async def contact_added(request: web.Request, employee: Person,
                        candidate: Candidate) -> dict[str, Any]:
    """Tell the bot a customer added ``employee`` (``add_external_contact``)."""
    settings, world = request.app[SETTINGS], request.app[WORLD]
    follow = next(f for f in candidate.follow if f["userid"] == employee.wecom_userid)
    code = uuid.uuid4().hex
    world.welcome_codes[code] = (employee.wecom_userid, candidate.external_userid, world.now())
    xml = contact_added_xml(
        corp_id=settings.wecom_corp_id, employee=employee.wecom_userid,
        external_userid=candidate.external_userid, state=str(follow.get("state", "")),
        welcome_code=code, created=int(world.now()),
    )
    return await request.app[CALLBACKS].deliver(request.app[HTTP], xml, "contact_added",
                                                candidate.external_userid)


def confirm(world: World, person: Person, msgid: str) -> MassTask:
    """The employee taps "确认发送": the task's text reaches each candidate.

    Raises:
        LookupError: No such task for this person.
        ValueError: Already sent.
    """
    task = world.tasks.get(msgid)
    if task is None or task.person_id != person.id:
        raise LookupError(msgid)
    if task.status == "sent":
        raise ValueError("该群发任务已发送")
    task.status, task.send_time = "sent", world.now()
    for ext in task.external_userids:
        candidate = world.candidates.get(ext)
        if candidate is not None:
            candidate.received.append({
                "msgid": task.msgid, "from_userid": task.sender, "from_name": person.name,
                "text": task.text, "attachments": task.attachments, "time": task.send_time,
            })
    world.touch()
    return task
