"""How the JSON API shows the world: messages, conversations, tasks, candidates."""

from __future__ import annotations

from typing import Any

from sandbox.normalise import page_card
from sandbox.org import Person
from sandbox.state import (
    BOT,
    DINGTALK,
    PLATFORMS,
    Candidate,
    MassTask,
    Message,
    World,
    dm_key,
)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def conversation_id(person: Person, key: str) -> str:
    """The API's name for a conversation: ``dm`` for the person's own chat with the bot."""
    return "dm" if key == dm_key(person.id) else key


def message_view(world: World, person: Person, message: Message) -> dict[str, Any]:
    sender = world.directory.person(message.sender) if message.sender != BOT else None
    card = world.cards.get(message.card_id) if message.card_id else None
    viewer = person.dingtalk_user_id if message.platform == DINGTALK else person.wecom_userid
    return {
        "seq": message.seq, "conversation": conversation_id(person, message.conversation),
        "kind": message.kind, "time": _ms(message.time),
        "sender": {"id": message.sender, "name": sender.name if sender else "hrbot"},
        "from_bot": message.sender == BOT, "text": message.text, "title": message.title,
        "card": page_card(card, viewer) if card is not None else None,
        "media": _media_view(world, message.media),
    }


def _media_view(world: World, media_id: str) -> dict[str, Any] | None:
    """Where the page fetches an image or file message's content; None for other messages."""
    if not media_id:
        return None
    media = world.media.get(media_id)
    # DingTalk's photoURL may also be a picture's public address.
    remote = media_id.startswith(("http://", "https://"))
    url = media_id if remote else f"/sandbox/media/{media_id}"
    return {"id": media_id, "url": url, "known": media is not None,
            "kind": media.kind if media else "", "filename": media.filename if media else ""}


def conversations_view(world: World, person: Person, platform: str,
                       bot_name: str) -> list[dict[str, Any]]:
    """The person's DM with the bot first, then (DingTalk only) their group chats."""
    keys = [(dm_key(person.id), "dm", bot_name, 2)]
    if platform == DINGTALK:
        keys += [(g.id, "group", g.name, len(g.members))
                 for g in world.directory.groups_of(person.id)]
    result = []
    for key, kind, title, members in keys:
        messages = world.inbox(person, platform, key)
        last = messages[-1] if messages else None
        preview = ""
        if last is not None:
            card = world.cards.get(last.card_id) if last.card_id else None
            preview = f"[卡片] {page_card(card)['title']}" if card else (
                "[图片]" if last.kind == "image" else last.title or last.text)
        result.append({"id": conversation_id(person, key), "kind": kind, "title": title,
                       "members": members, "count": len(messages), "last": preview[:60]})
    return result


def task_view(task: MassTask, world: World) -> dict[str, Any]:
    names = [world.candidates[e].name for e in task.external_userids if e in world.candidates]
    return {
        "msgid": task.msgid, "sender": task.sender, "text": task.text,
        "attachments": task.attachments, "external_userids": task.external_userids,
        "candidate_names": names, "fail_list": task.fail_list, "status": task.status,
        "created": _ms(task.created), "send_time": _ms(task.send_time),
    }


def candidate_view(candidate: Candidate) -> dict[str, Any]:
    return {"external_userid": candidate.external_userid, "name": candidate.name,
            "mobile": candidate.mobile, "follow_user": candidate.follow,
            "messages": [{**m, "time": _ms(m["time"])} for m in candidate.received]}


def todos_view(world: World, person: Person) -> list[dict[str, Any]]:
    return [
        {k: todo.get(k) for k in ("id", "subject", "description", "dueTime", "done",
                                  "priority", "detailUrl", "createdTime")}
        for todo in world.todos.values()
        if not todo.get("deleted") and (
            todo["person_id"] == person.id
            or person.dingtalk_union_id in (todo.get("executorIds") or ()))
    ]


def inbox_view(world: World, person: Person, platform: str,
               conversation: str | None) -> dict[str, Any]:
    messages = world.inbox(person, platform, conversation)
    tasks = [task_view(t, world) for t in world.tasks.values()
             if t.person_id == person.id] if platform != DINGTALK else []
    return {
        "person": person.to_dict(), "platform": platform, "revision": world.revision,
        "messages": [message_view(world, person, m) for m in messages],
        "tasks": tasks, "todos": todos_view(world, person) if platform == DINGTALK else [],
    }


def counts_view(world: World) -> dict[str, dict[str, int]]:
    """Per person and platform, how many messages others (the bot, a group) sent them: the
    page shows unread counts in its picker and explains an empty chat on one platform."""
    return {
        person.id: {platform: sum(1 for m in world.inbox(person, platform)
                                  if m.sender != person.id)
                    for platform in PLATFORMS if person.on(platform)}
        for person in world.directory.people
    }
