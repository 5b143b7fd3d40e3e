"""The recall message templates (cards/recall): one for every reason and stage in both
locales, personalised from the profile, and never a message with a blank in it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bot.config.schema import RECALL_NEWS_KEYS
from cards.recall import RECALL_ROOT, STAGES, RecallTemplateError, render_recall
from handlers.recall.common import CATEGORIES
from handlers.referral.workflow import NO_SHOW_CATEGORIES

CJK = re.compile(r"[\u4e00-\u9fff]")
FULL = {
    "zh": {"name": "王五", "sender": "李HR", "concern": "团队太年轻，没有有经验的带教",
           "changes": ["三位资深导师加入", "每周一对一带教"], "needs": ["弹性工作时间"],
           "questions": ["晋升路径是什么？"], "opening": {"title": "店长", "org": "上海一店",
                                                   "code": "SH1-SM"},
           "days": 200, "months": 6},
    "en": {"name": "Alice", "sender": "Mary", "concern": "the team was too young",
           "changes": ["three senior mentors joined", "weekly 1:1 mentoring"],
           "needs": ["flexible hours"], "questions": ["What is the promotion path?"],
           "opening": {"title": "Store Manager", "org": "Shanghai 1", "code": "SH1-SM"},
           "days": 200, "months": 6},
}
CASES = [(lc, c, s) for lc in ("zh", "en") for c in CATEGORIES for s in STAGES]


def test_categories_agree_with_the_no_show_card_and_the_config() -> None:
    assert CATEGORIES == NO_SHOW_CATEGORIES
    assert set(RECALL_NEWS_KEYS) == {*CATEGORIES, "any"}


def test_every_zh_template_has_an_en_counterpart() -> None:
    zh = {p.name for p in (RECALL_ROOT / "zh").glob("*.txt.j2")}
    en = {p.name for p in (RECALL_ROOT / "en").glob("*.txt.j2")}
    assert zh == en and len(zh) >= 15


@pytest.mark.parametrize(("locale", "category", "stage"), CASES)
def test_every_reason_and_stage_has_a_personal_message(
    locale: str, category: str, stage: str
) -> None:
    ctx = FULL[locale]
    out = render_recall(category=category, stage=stage, context=ctx, locale=locale)
    assert out.template in (f"{category}_{stage}", f"any_{stage}")
    assert out.text.startswith(ctx["name"]) or out.text.startswith(f"Hi {ctx['name']}")
    assert ctx["sender"] in out.text
    assert "{{" not in out.text and "None" not in out.text and "\n\n\n" not in out.text
    assert bool(CJK.search(out.text)) == (locale == "zh")
    if stage == "greeting":
        assert ctx["opening"]["title"] not in out.text  # a greeting, no job talk
    else:
        assert ctx["concern"] in out.text or ctx["questions"][0] in out.text
        assert ctx["changes"][0] in out.text
    if stage == "opening":
        assert ctx["opening"]["title"] in out.text and ctx["opening"]["org"] in out.text


# What each stage's message cannot do without (career quotes their question instead of
# their words when there is one; these cases give none).
NEEDED = {"greeting": {"sender"}, "news": {"sender", "concern", "changes"},
          "opening": {"sender", "concern", "changes", "opening"}}


@pytest.mark.parametrize(("locale", "category", "stage"), CASES)
@pytest.mark.parametrize("left_out", ["concern", "changes", "opening", "sender"])
def test_a_missing_value_is_an_error_not_a_blank(
    left_out: str, locale: str, category: str, stage: str
) -> None:
    ctx: dict[str, Any] = {k: v for k, v in FULL[locale].items() if k != left_out}
    ctx["questions"] = []
    if left_out in NEEDED[stage]:
        with pytest.raises(RecallTemplateError) as err:
            render_recall(category=category, stage=stage, context=ctx, locale=locale)
        assert (err.value.kind, err.value.detail) == ("missing", left_out)
    else:
        out = render_recall(category=category, stage=stage, context=ctx, locale=locale)
        assert out.text.count(ctx["sender"]) == 1


def test_the_deployments_directory_is_searched_first(tmp_path: Path) -> None:
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "team_news.txt.j2").write_text("{{ name }}：导师制上线了。", "utf-8")
    out = render_recall(category="team", stage="news", context=FULL["zh"],
                        override_dir=tmp_path)
    assert (out.template, out.text) == ("team_news", "王五：导师制上线了。")
    # Other templates still come from the package.
    out = render_recall(category="salary", stage="news", context=FULL["zh"],
                        override_dir=tmp_path)
    assert out.text.startswith("王五你好")


def test_a_locale_without_templates_falls_back_to_chinese() -> None:
    out = render_recall(category="team", stage="greeting", context=FULL["zh"], locale="fr")
    assert CJK.search(out.text)


@pytest.mark.parametrize(("category", "stage", "kind"), [
    ("unknown", "news", "not_found"), ("team", "farewell", "not_found")])
def test_no_template_is_an_error(category: str, stage: str, kind: str) -> None:
    with pytest.raises(RecallTemplateError) as err:
        render_recall(category=category, stage=stage, context=FULL["zh"])
    assert err.value.kind == kind and stage in err.value.detail


def test_a_broken_override_is_reported(tmp_path: Path) -> None:
    (tmp_path / "zh").mkdir()
    (tmp_path / "zh" / "team_news.txt.j2").write_text("{% if %}", "utf-8")
    with pytest.raises(RecallTemplateError) as err:
        render_recall(category="team", stage="news", context=FULL["zh"],
                      override_dir=tmp_path)
    assert err.value.kind == "broken"
