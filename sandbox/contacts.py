"""Fake contacts APIs of both platforms, serving the sandbox's org (and hires, moves, leavers).

Departments are the org paths of the people CSV (every prefix is a department; the top one
has id 1 on both platforms). A department's leaders are its members holding the ``leader``
role. WeCom also names each person's ``direct_leader`` (the CSV's ``lead`` column). Mobiles
are made up from the employee number, the same on both platforms, so people can be matched.

DingTalk (old API, ``access_token`` in the query, errors as ``errcode``):
    https://open.dingtalk.com/document/orgapp/query-department-details0-v2
    https://open.dingtalk.com/document/orgapp/obtain-the-department-list-v2
    https://open.dingtalk.com/document/orgapp/queries-the-complete-information-of-a-department-user
WeCom:
    https://developer.work.weixin.qq.com/document/path/95350 (department/simplelist)
    https://developer.work.weixin.qq.com/document/path/95351 (department/get)
    https://developer.work.weixin.qq.com/document/path/96067 (user/list_id)
    https://developer.work.weixin.qq.com/document/path/90196 (user/get)

``/sandbox/api/contacts`` lists the roster; ``…/hire``, ``…/move`` and ``…/leave`` change it.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from sandbox.fake_wecom import token_error
from sandbox.org import Person
from sandbox.state import DINGTALK, World
from sandbox.wire import SETTINGS, WORLD, answer, json_object, wecom_answer

USER_PAGE_MAX = 100
LIST_ID_MAX = 10000


@dataclass
class Employee:
    person: Person
    lead: str = ""
    title: str = ""
    left: bool = False

    @property
    def mobile(self) -> str:
        digits = int(hashlib.sha1(self.person.id.encode()).hexdigest(), 16) % 10**8
        return f"139{digits:08d}"


@dataclass
class Roster:
    """Who the platforms list, and the department ids they were given (stable once seen)."""

    employees: dict[str, Employee] = field(default_factory=dict)
    unit_ids: dict[str, int] = field(default_factory=dict)
    hires: int = 0
    loaded: bool = False
    # Lookups rebuilt after each change, so a large fake org answers in linear time.
    _cache: dict[str, Any] = field(default_factory=dict)

    def changed(self) -> None:
        self._cache.clear()

    def active(self) -> list[Employee]:
        if "active" not in self._cache:
            self._cache["active"] = [e for e in self.employees.values() if not e.left]
        return list(self._cache["active"])

    def in_unit(self, path: str) -> list[Employee]:
        if "by_path" not in self._cache:
            by_path: dict[str, list[Employee]] = {}
            for employee in self.active():
                by_path.setdefault(employee.person.org_path, []).append(employee)
            self._cache["by_path"] = by_path
        return list(self._cache["by_path"].get(path, []))

    def by_wecom(self, userid: str) -> Employee | None:
        if "by_wecom" not in self._cache:
            self._cache["by_wecom"] = {e.person.wecom_userid: e for e in self.active()}
        found: Employee | None = self._cache["by_wecom"].get(userid)
        return found

    def units(self) -> dict[str, int]:
        if "units" in self._cache:
            return self.unit_ids
        self._cache["units"] = True
        for employee in self.active():
            parts = [p for p in employee.person.org_path.split("/") if p]
            for depth in range(1, len(parts) + 1):
                path = "/".join(parts[:depth])
                self.unit_ids.setdefault(path, 1 if depth == 1 else len(self.unit_ids) + 2)
        return self.unit_ids

    def leaders(self, path: str) -> list[Employee]:
        return [e for e in self.in_unit(path) if "leader" in e.person.roles]


ROSTER = web.AppKey("sandbox_roster", Roster)


def roster_of(request: web.Request) -> Roster:
    roster = request.app[ROSTER]
    if roster.loaded:
        return roster
    world, settings = request.app[WORLD], request.app[SETTINGS]
    with open(settings.people_csv, encoding="utf-8-sig", newline="") as handle:
        rows = {r.get("employee_no", "").strip(): r for r in csv.DictReader(handle)}
    for person in world.directory.people:
        row = rows.get(person.id, {})
        roster.employees[person.id] = Employee(person, lead=(row.get("lead") or "").strip(),
                                               title=(row.get("title") or "").strip())
    roster.loaded = True
    return roster


def _parent(path: str) -> str | None:
    return path.rsplit("/", 1)[0] if "/" in path else None


def _path_of(roster: Roster, unit_id: Any) -> str | None:
    if "by_id" not in roster._cache:
        roster._cache["by_id"] = {str(i): p for p, i in roster.units().items()}
    found: str | None = roster._cache["by_id"].get(str(unit_id))
    return found


def _dingtalk_token_error(request: web.Request, world: World) -> web.Response | None:
    if world.token_state(DINGTALK, request.query.get("access_token", "")) == "valid":
        return None
    return answer({"errcode": 88, "errmsg": "不合法的access_token", "sub_code": "40014"})


async def _dingtalk(request: web.Request) -> tuple[Roster, dict[str, Any]] | web.Response:
    refused = _dingtalk_token_error(request, request.app[WORLD])
    if refused is not None:
        return refused
    body = await json_object(request)
    if body is None or not isinstance(body.get("dept_id"), int):
        return answer({"errcode": 400002, "errmsg": "dept_id 参数错误"})
    return roster_of(request), body


async def dt_department_get(request: web.Request) -> web.Response:
    got = await _dingtalk(request)
    if isinstance(got, web.Response):
        return got
    roster, body = got
    path = _path_of(roster, body["dept_id"])
    if path is None:
        return answer({"errcode": 60003, "errmsg": "部门不存在"})
    parent = _parent(path)
    result: dict[str, Any] = {"dept_id": body["dept_id"], "name": path.rsplit("/", 1)[-1]}
    if parent is not None:
        result["parent_id"] = roster.units()[parent]
    return answer({"errcode": 0, "errmsg": "ok", "result": result})


async def dt_listsub(request: web.Request) -> web.Response:
    got = await _dingtalk(request)
    if isinstance(got, web.Response):
        return got
    roster, body = got
    path = _path_of(roster, body["dept_id"])
    units = roster.units()
    children = [{"dept_id": i, "name": p.rsplit("/", 1)[-1], "parent_id": body["dept_id"]}
                for p, i in units.items() if path is not None and _parent(p) == path]
    return answer({"errcode": 0, "errmsg": "ok", "result": children})


def _dt_user(roster: Roster, employee: Employee, path: str) -> dict[str, Any]:
    person = employee.person
    return {
        "userid": person.dingtalk_user_id, "unionid": person.dingtalk_union_id,
        "name": person.name, "mobile": employee.mobile, "job_number": person.id,
        "title": employee.title, "dept_id_list": [roster.units()[person.org_path]],
        "leader": employee in roster.leaders(path), "active": True,
    }


async def dt_user_list(request: web.Request) -> web.Response:
    got = await _dingtalk(request)
    if isinstance(got, web.Response):
        return got
    roster, body = got
    cursor, size = body.get("cursor", 0), body.get("size")
    if not isinstance(size, int) or not 0 < size <= USER_PAGE_MAX or not isinstance(cursor, int):
        return answer({"errcode": 400002, "errmsg": "size 参数错误"})
    path = _path_of(roster, body["dept_id"])
    rows = [_dt_user(roster, e, path) for e in roster.in_unit(path or "")
            if path is not None and e.person.dingtalk_user_id]
    page = rows[cursor: cursor + size]
    more = cursor + size < len(rows)
    result: dict[str, Any] = {"has_more": more, "list": page}
    if more:
        result["next_cursor"] = cursor + size
    return answer({"errcode": 0, "errmsg": "ok", "result": result})


async def wx_simplelist(request: web.Request) -> web.Response:
    refused = token_error(request)
    if refused is not None:
        return refused
    units = roster_of(request).units()
    return wecom_answer(department_id=[
        {"id": i, "parentid": units[parent] if (parent := _parent(p)) else 0, "order": i}
        for p, i in units.items()
    ])


async def wx_department_get(request: web.Request) -> web.Response:
    refused = token_error(request)
    if refused is not None:
        return refused
    roster = roster_of(request)
    path = _path_of(roster, request.query.get("id"))
    if path is None:
        return wecom_answer(60123, "invalid party id")
    parent = _parent(path)
    return wecom_answer(department={
        "id": roster.units()[path], "name": path.rsplit("/", 1)[-1],
        "parentid": roster.units()[parent] if parent else 0,
        "department_leader": [e.person.wecom_userid for e in roster.leaders(path)
                              if e.person.wecom_userid],
    })


async def wx_list_id(request: web.Request) -> web.Response:
    refused = token_error(request)
    if refused is not None:
        return refused
    body = await json_object(request) or {}
    roster = roster_of(request)
    limit = body.get("limit", LIST_ID_MAX)
    offset = int(body["cursor"]) if str(body.get("cursor", "")).isdigit() else 0
    if not isinstance(limit, int) or not 0 < limit <= LIST_ID_MAX:
        return wecom_answer(40058, "limit 参数错误")
    rows = [{"userid": e.person.wecom_userid, "department": roster.units()[e.person.org_path]}
            for e in roster.active() if e.person.wecom_userid]
    more = offset + limit < len(rows)
    return wecom_answer(next_cursor=str(offset + limit) if more else "",
                        dept_user=rows[offset: offset + limit])


async def wx_user_get(request: web.Request) -> web.Response:
    refused = token_error(request)
    if refused is not None:
        return refused
    roster = roster_of(request)
    userid = request.query.get("userid", "")
    employee = roster.by_wecom(userid) if userid else None
    if employee is None:
        return wecom_answer(60111, "userid not found")
    person, unit = employee.person, roster.units()[employee.person.org_path]
    lead = roster.employees.get(employee.lead)
    return wecom_answer(
        userid=userid, name=person.name, department=[unit], main_department=unit,
        position=employee.title, mobile=employee.mobile, status=1,
        is_leader_in_dept=[1 if employee in roster.leaders(person.org_path) else 0],
        direct_leader=[lead.person.wecom_userid] if lead and not lead.left else [],
        extattr={"attrs": [{"type": 0, "name": "工号", "text": {"value": person.id}}]},
    )


def _error(message: str, status: int = 400) -> web.Response:
    return answer({"error": message}, status)


async def roster_view(request: web.Request) -> web.Response:
    roster = roster_of(request)
    return answer({"contacts": [{**e.person.to_dict(), "lead": e.lead, "left": e.left}
                                for e in roster.employees.values()]})


async def hire(request: web.Request) -> web.Response:
    body = await json_object(request) or {}
    name, org_path = str(body.get("name") or "").strip(), str(body.get("org_path") or "")
    org_path = "/".join(p.strip() for p in org_path.split("/") if p.strip())
    if not name or not org_path:
        return _error("需要 name 和 org_path")
    roster = roster_of(request)
    roster.hires += 1
    key = f"H{roster.hires:03d}"
    person = Person(id=key, name=name, org_path=org_path, dingtalk_user_id=f"dt_{key.lower()}",
                    dingtalk_union_id=f"un_{key.lower()}", wecom_userid=key.lower())
    roster.employees[key] = Employee(person, lead=str(body.get("lead") or ""),
                                     title=str(body.get("title") or ""))
    roster.changed()
    request.app[WORLD].directory.add(person)
    return answer({"hired": person.to_dict()})


async def move(request: web.Request) -> web.Response:
    body = await json_object(request) or {}
    roster = roster_of(request)
    employee = roster.employees.get(str(body.get("person") or ""))
    org_path = "/".join(p.strip() for p in str(body.get("org_path") or "").split("/") if p)
    if employee is None or employee.left or not org_path:
        return _error("需要在职人员的 person（工号）和新的 org_path")
    employee.person = replace(employee.person, org_path=org_path)
    if body.get("lead") is not None:
        employee.lead = str(body["lead"])
    roster.changed()
    return answer({"moved": employee.person.to_dict()})


async def leave(request: web.Request) -> web.Response:
    body = await json_object(request) or {}
    employee = roster_of(request).employees.get(str(body.get("person") or ""))
    if employee is None or employee.left:
        return _error("需要在职人员的 person（工号）", 404)
    employee.left = True
    roster_of(request).changed()
    return answer({"left": employee.person.to_dict()})


def add_routes(app: web.Application) -> None:
    app[ROSTER] = Roster()
    r = app.router
    r.add_post("/topapi/v2/department/get", dt_department_get)
    r.add_post("/topapi/v2/department/listsub", dt_listsub)
    r.add_post("/topapi/v2/user/list", dt_user_list)
    r.add_get("/cgi-bin/department/simplelist", wx_simplelist)
    r.add_get("/cgi-bin/department/get", wx_department_get)
    r.add_post("/cgi-bin/user/list_id", wx_list_id)
    r.add_get("/cgi-bin/user/get", wx_user_get)
    r.add_get("/sandbox/api/contacts", roster_view)
    r.add_post("/sandbox/api/contacts/hire", hire)
    r.add_post("/sandbox/api/contacts/move", move)
    r.add_post("/sandbox/api/contacts/leave", leave)
