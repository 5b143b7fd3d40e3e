"""Planning a directory sync from what the platforms said: org paths, leads, roles by rule,
one person across platforms, and the bad input the platforms can hand us (cycles, missing
parents, leaders who are not members, renamed userids, shared mobiles)."""

from __future__ import annotations

from bot.pipeline.directory import Member, OrgSnapshot, OrgUnit
from handlers.admin.directory_plan import Plan, Slot, make_plan, normalise_mobile
from handlers.admin.role_rules import roles_by_rule
from storage.crypto import blind_index
from storage.models import Person

RULES = {"referrer": ("everyone",), "leader": ("leaders",), "hr": ("dept:人力资源部",),
         "hr_lead": ("head:人力资源部",), "hiring_manager": ("title:店长",)}
UNITS = (OrgUnit("1", "总部", None), OrgUnit("2", "人力资源部", "1"),
         OrgUnit("3", "华东", "1", ("zhao",)), OrgUnit("4", "上海一店", "3"))


def snap(platform: str, members: list[Member], units: tuple[OrgUnit, ...] = UNITS) -> OrgSnapshot:
    return OrgSnapshot(platform, units, tuple(members), {})


def m(user: str, name: str, *units: str, **kw: object) -> Member:
    return Member(user, name, tuple(units), **kw)  # type: ignore[arg-type]


def plan(*snapshots: OrgSnapshot, people: list[Person] | None = None,
         match_by: str = "mobile") -> Plan:
    return make_plan(snapshots, people or [], match_by=match_by, rules=RULES)


def slot_of(p: Plan, platform: str, user: str) -> Slot:
    return next(s for s in p.slots
                if platform in s.seen and s.seen[platform].member.user_id == user)


WANG = m("wang", "王总", "1", leads_units=("1",), mobile="+86 138-0000-0001")
ZHAO = m("zhao", "赵总", "3", mobile="13800000002")
CHEN = m("chen", "陈HR", "2", leads_units=("2",), mobile="13800000003")
ZHANG = m("zhang", "张经理", "4", title="店长", mobile="13800000004", employee_no="E020")


def test_paths_leads_and_roles_by_rule_with_their_reasons() -> None:
    p = plan(snap("dingtalk", [WANG, ZHAO, CHEN, ZHANG]))

    zhang, chen = slot_of(p, "dingtalk", "zhang"), slot_of(p, "dingtalk", "chen")
    assert zhang.values["org_path"] == "总部/华东/上海一店"
    # 上海一店 has no leader: the lead is 华东's (named on the department, not a member flag).
    assert zhang.lead is slot_of(p, "dingtalk", "zhao")
    assert zhang.reasons == {"referrer": ["everyone"], "hiring_manager": ["title:店长"]}
    assert chen.reasons == {"referrer": ["everyone"], "leader": ["leaders"],
                            "hr": ["dept:人力资源部"], "hr_lead": ["head:人力资源部"]}
    # The head of a department is led by the parent's leader, the top by nobody.
    assert chen.lead is slot_of(p, "dingtalk", "wang")
    assert slot_of(p, "dingtalk", "wang").lead is None
    assert not p.fatal and not p.conflicts


def test_the_same_mobile_on_both_platforms_is_one_person_and_keys_are_normalised() -> None:
    wx_wang = m("wangzong", "王总", "1", mobile="13800000001")
    p = plan(snap("dingtalk", [WANG, ZHAO]), snap("wecom", [wx_wang]))

    merged = slot_of(p, "dingtalk", "wang")
    assert set(merged.seen) == {"dingtalk", "wecom"}
    assert merged.values["wecom_userid"] == "wangzong"
    assert merged.values["mobile_hash"] == blind_index("13800000001")
    assert normalise_mobile("+86 138-0000-0001") == "13800000001"
    assert len(p.slots) == 2


def test_matching_by_employee_number_links_an_existing_person_from_the_csv() -> None:
    csv_person = Person(id=7, employee_no="E020", name="张经理", org_path="总部", roles=["admin"],
                        wecom_userid="zhangjl")
    p = plan(snap("dingtalk", [ZHANG, ZHAO]), people=[csv_person], match_by="employee_no")

    slot = slot_of(p, "dingtalk", "zhang")
    assert slot.person is csv_person
    # The role set by hand stays; the rule roles join it.
    assert slot.values["roles"] == ["admin", "hiring_manager", "referrer"]
    assert slot.changed["org_path"] == ("总部", "总部/华东/上海一店")
    # Still on WeCom, which this sync did not read: not a leaver.
    assert p.leavers == [] and p.unlinked == []


def test_a_key_that_points_two_ways_is_a_conflict_and_nothing_is_merged() -> None:
    a = Person(id=1, employee_no="A", name="甲", org_path="总部", dingtalk_user_id="dt_a",
               mobile_hash=blind_index("13800000009"))
    b = Person(id=2, employee_no="B", name="乙", org_path="总部", wecom_userid="wx_b",
               mobile_hash=blind_index("13800000009"))
    p = plan(snap("dingtalk", [m("dt_a", "甲", "1", mobile="13800000009")]),
             snap("wecom", [m("wx_b", "乙", "1", mobile="13800000009")]), people=[a, b])

    assert [s.person for s in p.slots] == [a, b]
    assert len(p.conflicts) == 1 and "not merged" in p.conflicts[0]


def test_two_people_sharing_a_mobile_on_one_platform_are_both_kept_apart() -> None:
    twin = m("twin", "双胞胎", "4", mobile="13800000004")
    p = plan(snap("dingtalk", [ZHANG, twin]), snap("wecom", [m("zz", "张经理", "4",
                                                                  mobile="13800000004")]))

    assert len(p.slots) == 3  # nobody merged on a key that is not unique
    assert any("share one mobile" in c for c in p.conflicts)


def test_a_renamed_userid_keeps_the_person_and_is_noted() -> None:
    old = Person(id=3, employee_no="E020", name="张经理", org_path="总部/华东/上海一店",
                 wecom_userid="zhangjl_old", mobile_hash=blind_index("13800000004"))
    p = plan(snap("wecom", [m("zhangjl", "张经理", "4", mobile="13800000004")]), people=[old])

    slot = slot_of(p, "wecom", "zhangjl")
    assert slot.person is old and slot.changed["wecom_userid"] == ("zhangjl_old", "zhangjl")
    assert p.leavers == [] and any("renamed" in n for n in p.notes)


def test_a_cycle_or_a_missing_parent_is_fatal_and_plans_nothing() -> None:
    cycle = (OrgUnit("1", "总部", None), OrgUnit("5", "甲", "6"), OrgUnit("6", "乙", "5"))
    missing = (OrgUnit("1", "总部", None), OrgUnit("5", "甲", "99"))
    people = [Person(id=1, employee_no="E1", name="x", org_path="总部", dingtalk_user_id="x")]

    for units in (cycle, missing):
        p = plan(snap("dingtalk", [m("x", "x", "5")], units), people=people)
        assert p.fatal and p.slots == [] and p.leavers == []
    assert "cycle" in plan(snap("dingtalk", [], cycle)).fatal[0]
    assert "not listed" in plan(snap("dingtalk", [], missing)).fatal[0]


def test_two_departments_with_different_leads_and_a_leader_outside_are_noted() -> None:
    units = (*UNITS, OrgUnit("5", "华南", "1", ("qian",)), OrgUnit("6", "深圳店", "5", ("ghost",)))
    qian = m("qian", "钱总", "5")
    both = m("both", "两地", "4", "6", main_unit_id="6")
    p = plan(snap("wecom", [WANG, ZHAO, qian, both], units))

    # The main department decides; its leader 'ghost' is not a member, so 华南's leads.
    assert slot_of(p, "wecom", "both").lead is slot_of(p, "wecom", "qian")
    assert any("different leads" in n for n in p.notes)
    assert any("ghost" in n and "not a member" in n for n in p.notes)


def test_a_leader_from_another_department_leads_it_all_the_same() -> None:
    units = (*UNITS[:3], OrgUnit("4", "上海一店", "3", ("wang",)))
    p = plan(snap("wecom", [WANG, ZHAO, ZHANG], units))

    assert slot_of(p, "wecom", "zhang").lead is slot_of(p, "wecom", "wang")
    assert any("not one of its members" in n for n in p.notes)


def test_leavers_and_people_who_left_one_platform_only() -> None:
    both = Person(id=1, employee_no="E1", name="甲", org_path="总部", dingtalk_user_id="a",
                  wecom_userid="wa")
    dt_only = Person(id=2, employee_no="E2", name="乙", org_path="总部", dingtalk_user_id="b")
    shell = Person(id=3, employee_no="E3", name="丙", org_path="总部")
    p = plan(snap("dingtalk", [m("c", "丁", "1")]), people=[both, dt_only, shell])

    assert p.leavers == [dt_only] and p.unlinked == [(both, "dingtalk")]
    assert p.synced_before == 2 and p.deactivate_share() == 0.5


def test_a_disabled_wecom_member_counts_as_gone() -> None:
    gone = Person(id=1, employee_no="E1", name="甲", org_path="总部", wecom_userid="wa")
    p = plan(snap("wecom", [m("wa", "甲", "1", active=False)]), people=[gone])

    assert p.leavers == [gone]


def test_role_rules_match_names_paths_and_titles() -> None:
    rules = {"hr": ("dept:总部/人力资源部",), "hr_lead": ("head:人力资源部",),
             "hiring_manager": ("title:店长",)}
    assert roles_by_rule(rules, member_paths=["总部/人力资源部/招聘组"], led_paths=[],
                         title="") == {"hr": ["dept:总部/人力资源部"]}
    assert roles_by_rule(rules, member_paths=["华东/人力资源部"], led_paths=["华东/人力资源部"],
                         title="副店长") == {"hr_lead": ["head:人力资源部"],
                                          "hiring_manager": ["title:店长"]}
    assert roles_by_rule(rules, member_paths=["总部"], led_paths=["总部/人力资源部/招聘组"],
                         title="") == {}
