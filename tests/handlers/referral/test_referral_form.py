from __future__ import annotations

import re
import time
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.text import normalize_text, split_command
from handlers.referral.form import (
    FIELD_ALIASES,
    ParsedEntry,
    ReferralForm,
    is_concrete_reason,
    mask_phone,
    normalize_email,
    normalize_phone,
    parse_education,
    parse_fields,
    parse_referral,
    parse_work_history,
)

COMMANDS = ("推荐", "推荐列表", "refer", "Recall", "撤回")
CANONICAL = {
    "position", "name", "phone", "email", "education",
    "experience", "achievements", "reason", "resume", "note",
}
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def referral(text: str) -> ReferralForm:
    """Run a raw chat message through the same steps the handler uses."""
    word, rest = split_command(normalize_text(text), COMMANDS)
    assert word == "推荐"
    return parse_referral(rest)


# --- FIELD_ALIASES ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("岗位", "position"), ("职位", "position"), ("position", "position"),
        ("姓名", "name"), ("名字", "name"), ("候选人", "name"), ("name", "name"),
        ("电话", "phone"), ("手机", "phone"), ("手机号", "phone"), ("phone", "phone"),
        ("mobile", "phone"), ("邮箱", "email"), ("email", "email"),
        ("学历", "education"), ("education", "education"),
        ("经历", "experience"), ("工作经历", "experience"), ("experience", "experience"),
        ("业绩", "achievements"), ("成就", "achievements"), ("achievements", "achievements"),
        ("理由", "reason"), ("推荐理由", "reason"), ("reason", "reason"),
        ("简历", "resume"), ("resume", "resume"), ("备注", "note"), ("note", "note"),
    ],
)
def test_field_aliases_map_labels_to_canonical_fields(label: str, canonical: str) -> None:
    assert FIELD_ALIASES[label] == canonical


def test_field_aliases_only_target_canonical_fields() -> None:
    assert set(FIELD_ALIASES.values()) == CANONICAL


# --- normalize_text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Issue 16: the user's Chinese punctuation is kept as typed (only matching folds it).
        ("推荐：店长，张三；（备注）", "推荐：店长，张三；（备注）"),
        ("ｒｅｆｅｒ　店长！", "refer 店长！"),
        ("１３８００１３８０００", "13800138000"),
        ("推荐\u3000店长\u3000\u3000张三", "推荐 店长 张三"),
        ("@hrbot 推荐 店长", "推荐 店长"),
        ("@HR助手 推荐 店长", "推荐 店长"),
        ("@hrbot @HR助手\u3000推荐 店长", "推荐 店长"),
        ("@hrbot", ""),
        ("  推荐   店长 \n  姓名:  张三  \r\n备注: x ", "推荐 店长\n姓名: 张三\n备注: x"),
        ("推荐 店长 张三 a@b.com", "推荐 店长 张三 a@b.com"),
        ("推荐 🎉 店长", "推荐 🎉 店长"),
        ("推\u200b荐 店长", "推荐 店长"),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_normalize_text_keeps_very_long_text() -> None:
    body = "提升30%" * 2000
    assert normalize_text(f"@hrbot 推荐 {body}") == f"推荐 {body}"


# --- split_command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("推荐店长 张三", ("推荐", "店长 张三")),
        ("推荐 店长 张三", ("推荐", "店长 张三")),
        ("推荐", ("推荐", "")),
        ("推荐列表", ("推荐列表", "")),
        ("推荐列表 本周", ("推荐列表", "本周")),
        ("refer x", ("refer", "x")),
        ("REFER x", ("refer", "x")),
        ("recall 12", ("Recall", "12")),
        ("refer: x", ("refer", "x")),
        ("推荐:\n岗位: 店长", ("推荐", "岗位: 店长")),
        ("referral x", (None, "referral x")),
        ("referee x", (None, "referee x")),
        ("hello 推荐", (None, "hello 推荐")),
        ("", (None, "")),
    ],
)
def test_split_command(text: str, expected: tuple[str | None, str]) -> None:
    assert split_command(text, COMMANDS) == expected


def test_split_command_english_word_matches_when_listed() -> None:
    assert split_command("referral x", ["refer", "referral"]) == ("referral", "x")
    assert split_command("Referral x", ["refer", "referral"]) == ("referral", "x")


def test_split_command_ignores_blank_command_words() -> None:
    assert split_command("abc", ["", "  "]) == (None, "abc")


# --- parse_referral: one-line form -----------------------------------------------------------


def test_one_line_form_with_phone_and_reason() -> None:
    form = referral("推荐 店长 张三 13800138000 曾将社区商场月客流提升30%")
    assert form.fields == {
        "position": "店长", "name": "张三", "phone": "13800138000",
        "reason": "曾将社区商场月客流提升30%",
    }
    assert form.unknown_labels == []


def test_one_line_form_without_space_after_command() -> None:
    assert referral("推荐店长 张三").fields == {"position": "店长", "name": "张三"}


def test_one_line_form_full_width_input() -> None:
    form = referral("推荐　店长　张三　１３８００１３８０００　带领团队获得区域销售冠军")
    assert form.fields == {
        "position": "店长", "name": "张三", "phone": "13800138000",
        "reason": "带领团队获得区域销售冠军",
    }


def test_one_line_form_with_mention_prefix() -> None:
    form = referral("@HR助手 推荐 店长 张三 13800138000 带领团队获得冠军")
    assert form.fields["position"] == "店长"
    assert form.fields["reason"] == "带领团队获得冠军"


def test_one_line_form_without_phone_keeps_everything_after_name_as_reason() -> None:
    assert referral("推荐 店长 张三 人不错").fields == {
        "position": "店长", "name": "张三", "reason": "人不错",
    }


def test_one_line_form_reason_keeps_internal_spaces() -> None:
    form = referral("推荐 店长 张三 13800138000 带过 12 人的团队 , 业绩第一")
    assert form.fields["reason"] == "带过 12 人的团队 , 业绩第一"


def test_one_line_form_single_token_is_position() -> None:
    assert referral("推荐 店长").fields == {"position": "店长"}


def test_one_line_form_empty() -> None:
    assert parse_referral("") == ReferralForm()


@pytest.mark.parametrize(
    "text",
    [
        "店长 张三 13800138000 zs@example.com 业绩第一",
        "店长 张三 zs@example.com 13800138000 业绩第一",
    ],
)
def test_one_line_form_email_next_to_phone(text: str) -> None:
    assert parse_referral(text).fields == {
        "position": "店长", "name": "张三", "phone": "13800138000",
        "email": "zs@example.com", "reason": "业绩第一",
    }


def test_one_line_form_email_without_phone() -> None:
    assert parse_referral("店长 张三 zs@example.com").fields == {
        "position": "店长", "name": "张三", "email": "zs@example.com",
    }


def test_one_line_form_grouped_phone_with_country_code() -> None:
    form = parse_referral("店长 张三 +86 138-0013-8000 带领团队获得冠军")
    assert form.fields["phone"] == "+86 138-0013-8000"
    assert form.fields["reason"] == "带领团队获得冠军"


def test_one_line_form_phone_right_after_position_leaves_name_out() -> None:
    assert parse_referral("店长 13800138000 业绩第一").fields == {
        "position": "店长", "phone": "13800138000", "reason": "业绩第一",
    }


@pytest.mark.parametrize("phone", ["12345", "1380013800", "010-12345678", "(021)1234567"])
def test_one_line_form_invalid_phone_is_kept_as_phone(phone: str) -> None:
    form = parse_referral(f"店长 张三 {phone} 曾将客流提升30%")
    assert form.fields["phone"] == phone
    assert normalize_phone(form.fields["phone"]) is None
    assert form.fields["reason"] == "曾将客流提升30%"


@pytest.mark.parametrize(
    "reason", ["2019 年起连续三年销售第一", "2020-2023 连续三年销冠", "30 人团队", "1234 单"]
)
def test_one_line_form_reason_starting_with_a_number_is_not_a_phone(reason: str) -> None:
    form = parse_referral(f"店长 张三 {reason}")
    assert "phone" not in form.fields
    assert form.fields["reason"] == reason


def test_one_line_form_comma_separated() -> None:
    assert referral("推荐 店长，张三，13800138000，带团队拿过冠军").fields == {
        "position": "店长", "name": "张三", "phone": "13800138000", "reason": "带团队拿过冠军",
    }


def test_one_line_form_very_long_reason_round_trips() -> None:
    reason = ("曾将社区商场月客流提升30% 并带领团队获得区域销售冠军" * 200)[:5000]
    assert len(reason) == 5000
    form = referral(f"推荐 店长 张三 13800138000 {reason}")
    assert form.fields["reason"] == reason


# --- parse_referral: labelled form -----------------------------------------------------------


def test_multi_line_form_with_continuation_lines() -> None:
    form = referral(
        "推荐\n"
        "岗位：店长\n"
        "姓名：张三\n"
        "电话：138 0013 8000\n"
        "理由：带领团队获得区域销售冠军\n"
        "并将月客流提升30%\n"
        "经历：\n"
        "2019.03-2021.05 万达 零售 店长\n"
        "2021.06-至今 万科 地产 区域经理\n"
        "备注："
    )
    assert form.fields == {
        "position": "店长",
        "name": "张三",
        "phone": "138 0013 8000",
        "reason": "带领团队获得区域销售冠军\n并将月客流提升30%",
        "experience": "2019.03-2021.05 万达 零售 店长\n2021.06-至今 万科 地产 区域经理",
        "note": "",
    }
    assert form.unknown_labels == []


def test_multi_line_form_unknown_labels_are_reported_not_merged() -> None:
    form = parse_referral("姓名: 张三\n籍贯: 北京\n海淀区\n爱好：跑步\n岗位: 店长")
    assert form.fields == {"name": "张三", "position": "店长"}
    assert form.unknown_labels == ["籍贯", "爱好"]


def test_multi_line_form_english_labels() -> None:
    form = referral(
        "推荐\nPosition: Store Manager\nName: Zhang San\nPhone: +86 138-0013-8000\n"
        "Email: ZS@Example.com\nEducation: Bachelor\nReason: grew sales 20%\nNote: n/a"
    )
    assert form.fields == {
        "position": "Store Manager", "name": "Zhang San", "phone": "+86 138-0013-8000",
        "email": "ZS@Example.com", "education": "Bachelor", "reason": "grew sales 20%",
        "note": "n/a",
    }


def test_multi_line_form_with_bullets_and_brackets() -> None:
    form = parse_referral("1. 姓名：张三\n- 【岗位】：店长\n📌 电话: 13800138000")
    assert form.fields == {"name": "张三", "position": "店长", "phone": "13800138000"}


def test_labelled_pairs_on_one_line() -> None:
    form = referral("推荐 姓名：张三，电话：13800138000；岗位：店长")
    assert form.fields == {"name": "张三", "phone": "13800138000", "position": "店长"}


def test_colon_inside_value_or_time_does_not_start_a_field() -> None:
    form = parse_referral("理由: 面试时间 10:30\n简历: https://example.com/cv.pdf\nhttps://x.y/z")
    assert form.fields == {
        "reason": "面试时间 10:30",
        "resume": "https://example.com/cv.pdf\nhttps://x.y/z",
    }
    assert form.unknown_labels == []


def test_mixed_form_merges_and_labelled_lines_win() -> None:
    form = referral("推荐 店长 张三 13800138000 人不错\n理由: 带领团队获得冠军\n邮箱: a@b.com")
    assert form.fields == {
        "position": "店长", "name": "张三", "phone": "13800138000",
        "reason": "带领团队获得冠军", "email": "a@b.com",
    }


def test_multi_line_form_very_long_value_round_trips() -> None:
    reason = ("带领团队获得区域销售冠军, 月客流提升30%. 😀" * 300)[:5000]
    form = parse_referral(f"岗位: 店长\n理由: {reason}\n备注: 无")
    assert form.fields["reason"] == reason
    assert form.fields["note"] == "无"


# --- parse_fields ----------------------------------------------------------------------------


def test_parse_fields_reads_only_labelled_lines() -> None:
    form = parse_fields("@hrbot 补充一下\n电话：１３８００１３８０００\n邮箱: a@b.com\n谢谢")
    assert form.fields == {"phone": "13800138000", "email": "a@b.com\n谢谢"}


def test_parse_fields_ignores_one_line_referral() -> None:
    assert parse_fields("店长 张三 13800138000 业绩第一") == ReferralForm()


def test_parse_fields_reports_unknown_labels() -> None:
    form = parse_fields("籍贯: 北京\n学历: 本科")
    assert form.fields == {"education": "本科"}
    assert form.unknown_labels == ["籍贯"]


# --- phones and emails -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("(0086)13800138000", "13800138000"),
        ("0086 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("+8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),
        ("(138) 0013-8000", "13800138000"),
        ("12345", None),
        ("12800138000", None),
        ("1380013800", None),
        ("138001380001", None),
        ("86138001380", None),
        ("1380013800a", None),
        ("", None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "138****8000"),
        ("12345678", "123***78"),
        ("+86 138-0013-8000", "+86************00"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_phone(raw: str, expected: str) -> None:
    assert mask_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ZS@Example.COM", "zs@example.com"),
        ("  zhang.san+hr@mail.example.cn ", "zhang.san+hr@mail.example.cn"),
        ("ｚｓ＠ｅｘａｍｐｌｅ．ｃｏｍ", "zs@example.com"),
        ("zs@example", None),
        ("zs@@example.com", None),
        ("z s@example.com", None),
        ("zs@example..com", None),
        ("@example.com", None),
        ("zs@.com", None),
        ("", None),
    ],
)
def test_normalize_email(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


# --- is_concrete_reason ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "曾将社区商场月客流提升30%",
        "带领团队获得区域销售冠军",
        "grew sales 20%",
        "Led the team that won the award",
        "店铺业绩三十%增长不少",
        "同比增长百分之三十",
        "在门店干了两年多",
        "管理过十人的团队",
        "连续季度拿过第一",
        "１２个月内开了新店",
    ],
)
def test_concrete_reasons(reason: str) -> None:
    assert is_concrete_reason(reason) is True


@pytest.mark.parametrize(
    "reason",
    [
        "人不错", "挺好的", "认真负责", "good person", "", "   ", "30%",
        "一直很努力工作", "一天到晚都认真", "千万别错过这个人",
    ],
)
def test_vague_reasons(reason: str) -> None:
    assert is_concrete_reason(reason) is False


# --- parse_work_history ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2019.03-2021.05 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019-03-2021-05 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019/03~2021/05 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019年3月至2021年5月 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019-2021 万达 零售 店长", date(2019, 1, 1), date(2021, 1, 1)),
        ("2019年-2021年 万达 零售 店长", date(2019, 1, 1), date(2021, 1, 1)),
        ("2019.3 – 2021.12 万达 零售 店长", date(2019, 3, 1), date(2021, 12, 1)),
        ("2019.03—2021.05 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("２０１９．０３～２０２１．０５ 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019.03到2021.05 万达 零售 店长", date(2019, 3, 1), date(2021, 5, 1)),
        ("2019-2021.05 万达 零售 店长", date(2019, 1, 1), date(2021, 5, 1)),
        ("2019.03-至今 万达 零售 店长", date(2019, 3, 1), None),
        ("2019.03至今 万达 零售 店长", date(2019, 3, 1), None),
        ("2019.03-现在 万达 零售 店长", date(2019, 3, 1), None),
        ("2019.03-今 万达 零售 店长", date(2019, 3, 1), None),
        ("2019.03 - now 万达 零售 店长", date(2019, 3, 1), None),
        ("2019.03-Present 万达 零售 店长", date(2019, 3, 1), None),
    ],
)
def test_work_history_date_styles(text: str, start: date, end: date | None) -> None:
    entries, bad = parse_work_history(text)
    assert bad == []
    assert entries == [ParsedEntry(start, end, "万达", "零售", "店长")]


def test_work_history_token_counts() -> None:
    entries, bad = parse_work_history(
        "2015.01-2016.12 万达 零售 高级 店长\n2017.01-2018.12 万达 店长\n2019.01-2020.12 店长"
    )
    assert bad == []
    assert [(e.company, e.industry, e.title) for e in entries] == [
        ("万达", "零售", "高级 店长"),
        ("万达", "", "店长"),
        ("", "", "店长"),
    ]


def test_work_history_overlapping_and_open_ended_entries_are_all_kept() -> None:
    entries, bad = parse_work_history(
        "2018.01-2020.06 万达 零售 店长；2019.06-至今 万科 地产 顾问; 2020.01-now 自营 电商 店主"
    )
    assert bad == []
    assert [(e.start, e.end, e.company) for e in entries] == [
        (date(2018, 1, 1), date(2020, 6, 1), "万达"),
        (date(2019, 6, 1), None, "万科"),
        (date(2020, 1, 1), None, "自营"),
    ]


def test_work_history_bad_segments_are_returned_verbatim() -> None:
    text = (
        "2019.03-2021.05 万达 零售 店长\n"
        "在万达做过店长\n"
        "2021.05-2019.03 万达 零售 店长；"
        "2019.13-2020.01 万达 店长;"
        "2019.03-2021.05\n"
        "2019.03 万达 店长\n"
        "\n  \n"
        "1899.01-1900.01 古董店 店长"
    )
    entries, bad = parse_work_history(text)
    assert entries == [ParsedEntry(date(2019, 3, 1), date(2021, 5, 1), "万达", "零售", "店长")]
    assert bad == [
        "在万达做过店长",
        "2021.05-2019.03 万达 零售 店长",
        "2019.13-2020.01 万达 店长",
        "2019.03-2021.05",
        "2019.03 万达 店长",
        "1899.01-1900.01 古董店 店长",
    ]


def test_work_history_bullets_and_equal_dates() -> None:
    entries, bad = parse_work_history("- 2020.01-2020.01 万达 店长\n1. 2021.02-至今 万科 顾问")
    assert bad == []
    assert [(e.start, e.end) for e in entries] == [
        (date(2020, 1, 1), date(2020, 1, 1)),
        (date(2021, 2, 1), None),
    ]


def test_work_history_empty() -> None:
    assert parse_work_history("") == ([], [])


# --- parse_education -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("博士", "博士"),
        ("北大硕士", "硕士"),
        ("研究生在读", "硕士"),
        ("全日制本科", "本科"),
        ("大专", "大专"),
        ("高中毕业", "高中"),
        ("中专", "中专"),
        ("PhD in Chemistry", "博士"),
        ("Master of Science", "硕士"),
        ("Bachelor's degree", "本科"),
        ("community college", "大专"),
        ("High School", "高中"),
        ("本科毕业后读了研究生", "硕士"),
        ("自学成才", None),
        ("", None),
    ],
)
def test_parse_education(text: str, expected: str | None) -> None:
    assert parse_education(text) == expected


# --- long input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["一" * 50_000, "1-" * 50_000, "a " * 50_000, "@" * 50_000, "姓名:张三," * 10_000],
)
def test_pathological_long_input_is_handled_quickly(text: str) -> None:
    started = time.perf_counter()
    form = parse_referral(text)
    entries, bad = parse_work_history(text)
    is_concrete_reason(text)
    normalize_text(text)
    # Quadratic regex backtracking on these inputs took tens of seconds.
    assert time.perf_counter() - started < 3
    assert set(form.fields) <= CANONICAL
    assert len(entries) + len(bad) >= 1


# --- properties ------------------------------------------------------------------------------

# Fragments that exercise the parser's special cases far more often than st.text() does.
CHAT_TEXT = st.lists(
    st.sampled_from(
        [
            *"推荐店长张三岗位姓名电话理由:：,，;；@ \u3000\n\t0123456789１３８+-()（）ab.%",
            *("13800138000", "refer", "@hrbot ", "2019.03-至今 ", "😀", "e\u0301", "\u200b"),
        ]
    ),
    max_size=40,
).map("".join)
ANY_TEXT = st.one_of(st.text(), CHAT_TEXT)


@given(ANY_TEXT)
def test_parse_referral_never_raises(text: str) -> None:
    form = parse_referral(text)
    assert set(form.fields) <= CANONICAL
    assert all(isinstance(v, str) for v in form.fields.values())
    assert all(isinstance(label, str) and label for label in form.unknown_labels)


@given(ANY_TEXT)
def test_parse_fields_never_raises(text: str) -> None:
    assert set(parse_fields(text).fields) <= CANONICAL


@given(ANY_TEXT)
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\u3000" not in once
    assert once == once.strip()


@given(ANY_TEXT, st.lists(st.text(max_size=8), max_size=5))
def test_split_command_never_raises(text: str, commands: list[str]) -> None:
    word, rest = split_command(text, commands)
    if word is None:
        assert rest == text
    else:
        assert word in {c.strip() for c in commands}
        assert text.lstrip().lower().startswith(word.lower())


@given(st.one_of(st.text(), st.text(alphabet="0123456789１３８+-() ", max_size=20)))
def test_normalize_phone_output_is_always_a_mobile(raw: str) -> None:
    phone = normalize_phone(raw)
    if phone is not None:
        assert MOBILE.match(phone)


@st.composite
def mobiles(draw: st.DrawFn) -> tuple[str, str]:
    """A mobile number and one of the ways people type it."""
    digits = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    style = draw(st.sampled_from(["{}", "+86 {}", "+86{}", "0086{}", "(+86) {}", "86{}"]))
    grouped = draw(st.sampled_from([digits, f"{digits[:3]}-{digits[3:7]}-{digits[7:]}",
                                    f"{digits[:3]} {digits[3:7]} {digits[7:]}"]))
    return digits, style.format(grouped)


@given(mobiles())
def test_normalize_phone_accepts_common_formats(phone: tuple[str, str]) -> None:
    digits, typed = phone
    assert normalize_phone(typed) == digits


@given(st.from_regex(r"[0-9]{11}", fullmatch=True))
def test_mask_phone_hides_the_middle_of_an_11_digit_phone(phone: str) -> None:
    masked = mask_phone(phone)
    assert masked == f"{phone[:3]}****{phone[7:]}"
    assert sum(ch.isdigit() for ch in masked) == 7


@given(st.text())
def test_mask_phone_reveals_at_most_five_characters_of_anything_else(raw: str) -> None:
    assume(not (len(raw) == 11 and raw.isascii() and raw.isdigit()))
    masked = mask_phone(raw)
    assert len(masked) == len(raw)
    assert sum(a == b for a, b in zip(masked, raw, strict=True) if a != "*") <= 5


WORD = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=12)
REASON = st.text(
    alphabet=st.characters(
        exclude_categories=("Cc", "Cs", "Co", "Cn", "Zl", "Zp"), exclude_characters=":,;@"
    ),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300)
@given(WORD, WORD, mobiles(), REASON)
def test_one_line_reason_is_preserved_exactly(
    position: str, name: str, phone: tuple[str, str], raw_reason: str
) -> None:
    position, name, reason = (normalize_text(v) for v in (position, name, raw_reason))
    # The generated pieces must already be in normalised, single-token form.
    assume(position and name and reason)
    assume(not any(ch.isspace() or ch in ":,;@" for ch in position + name))
    assume(not any(ch in ":,;@\n" for ch in reason))
    digits, typed = phone
    form = referral(f"推荐 {position} {name} {typed} {reason}")
    assert form.fields == {
        "position": position, "name": name, "phone": typed, "reason": reason,
    }
    assert normalize_phone(form.fields["phone"]) == digits


@given(ANY_TEXT)
def test_work_history_never_drops_a_segment(text: str) -> None:
    entries, bad = parse_work_history(text)
    segments = [s for s in re.split(r"[\n;；]", text) if s.strip()]
    assert len(entries) + len(bad) == len(segments)
    assert all(b in text for b in bad)


@given(ANY_TEXT)
def test_reason_and_education_never_raise(text: str) -> None:
    assert isinstance(is_concrete_reason(text), bool)
    assert parse_education(text) in {None, "博士", "硕士", "本科", "大专", "高中", "中专"}
