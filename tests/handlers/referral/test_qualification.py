from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.referral.qualification import (
    CandidateFacts,
    Outcome,
    RequirementResult,
    WorkEntry,
    check_requirements,
    education_rank,
    matching_entries,
    merged_years,
    validate_requirement,
)

TODAY = date(2025, 7, 1)

RETAIL_YEARS = {
    "kind": "years",
    "label": "零售管理经验",
    "min_years": 3,
    "industries": ["零售", "商场", "retail"],
    "titles": ["经理", "店长", "主管", "manager"],
}
STORE_MANAGER_YEARS = {
    "kind": "years",
    "label": "店长经验",
    "min_years": 1,
    "industries": ["零售", "商场", "retail"],
    "titles": ["店长", "store manager"],
}
EDUCATION = {"kind": "education", "label": "学历", "min_level": "本科"}
TRAFFIC = {"kind": "keywords", "label": "线下客流运营", "any": ["社群", "活动", "客流", "traffic"]}
RETENTION = {
    "kind": "figure",
    "label": "团队建设（留存率）",
    "keywords": ["留存", "retention"],
    "min_value": 85,
    "unit": "%",
}
STORE_MANAGER_POSITION = [RETAIL_YEARS, STORE_MANAGER_YEARS, EDUCATION, TRAFFIC, RETENTION]


def job(
    start: str, end: str | None, company: str = "", industry: str = "零售", title: str = "店长"
) -> WorkEntry:
    """Build a WorkEntry from "YYYY.MM" strings."""

    def month(text: str) -> date:
        year, mon = text.split(".")
        return date(int(year), int(mon), 1)

    return WorkEntry(month(start), month(end) if end else None, company, industry, title)


def check_one(spec: dict, facts: CandidateFacts) -> RequirementResult:
    [result] = check_requirements([spec], facts, today=TODAY)
    return result


# --- merged_years ---------------------------------------------------------------------


def test_merged_years_counts_overlap_once():
    entries = [job("2018.01", "2020.12"), job("2020.06", "2021.12")]
    assert merged_years(entries, today=TODAY) == pytest.approx(4.0, abs=0.005)


def test_merged_years_end_month_is_inclusive():
    assert merged_years([job("2019.03", "2019.03")], today=TODAY) == pytest.approx(31 / 365.25)


def test_merged_years_adjacent_jobs_add_up_without_gap_or_double_count():
    entries = [job("2018.01", "2018.12"), job("2019.01", "2019.12")]
    assert merged_years(entries, today=TODAY) == pytest.approx(730 / 365.25)


def test_merged_years_nested_job_adds_nothing():
    outer = job("2015.01", "2019.12")
    inner = job("2016.05", "2017.02")
    assert merged_years([outer, inner], today=TODAY) == merged_years([outer], today=TODAY)


def test_merged_years_open_end_runs_until_injected_today():
    entry = job("2024.07", None)
    assert merged_years([entry], today=date(2025, 7, 1)) == pytest.approx(365 / 365.25)
    assert merged_years([entry], today=date(2026, 7, 1)) == pytest.approx(730 / 365.25)


def test_merged_years_ignores_time_after_today():
    assert merged_years([job("2025.01", "2027.12")], today=TODAY) == pytest.approx(181 / 365.25)


def test_merged_years_empty_and_inverted_are_zero():
    assert merged_years([], today=TODAY) == 0
    assert merged_years([job("2020.05", "2019.01")], today=TODAY) == 0


@st.composite
def work_entries(draw: st.DrawFn) -> WorkEntry:
    start = date(draw(st.integers(2000, 2026)), draw(st.integers(1, 12)), 1)
    months = draw(st.none() | st.integers(0, 150))
    if months is None:
        return WorkEntry(start, None)
    index = start.month - 1 + months
    return WorkEntry(start, date(start.year + index // 12, index % 12 + 1, 1))


ENTRY_LISTS = st.lists(work_entries(), min_size=1, max_size=8)


@given(ENTRY_LISTS)
def test_merged_years_never_exceeds_sum_of_entries(entries):
    singles = [merged_years([e], today=TODAY) for e in entries]
    assert merged_years(entries, today=TODAY) <= sum(singles) + 1e-9


@given(ENTRY_LISTS)
def test_merged_years_never_below_longest_entry(entries):
    longest = max(merged_years([e], today=TODAY) for e in entries)
    assert merged_years(entries, today=TODAY) >= longest - 1e-9


@given(ENTRY_LISTS, st.randoms(use_true_random=False))
def test_merged_years_is_order_independent(entries, rng):
    shuffled = list(entries)
    rng.shuffle(shuffled)
    assert merged_years(shuffled, today=TODAY) == merged_years(entries, today=TODAY)
    assert merged_years(entries + entries, today=TODAY) == merged_years(entries, today=TODAY)


# --- matching_entries -----------------------------------------------------------------


def test_matching_entries_needs_both_industry_and_title():
    shop = job("2020.01", "2020.12", industry="连锁零售", title="区域经理")
    office = job("2021.01", "2021.12", industry="互联网", title="产品经理")
    clerk = job("2022.01", "2022.12", industry="零售", title="店员")
    matched = matching_entries(
        [shop, office, clerk], industries=RETAIL_YEARS["industries"], titles=["经理"]
    )
    assert matched == [shop]


def test_matching_entries_is_case_insensitive_and_empty_filter_accepts_all():
    entry = job("2020.01", "2020.12", industry="Fashion RETAIL", title="Store Manager")
    other = job("2021.01", "2021.12", industry="Tech", title="Engineer")
    assert matching_entries([entry, other], industries=["retail"], titles=["MANAGER"]) == [entry]
    assert matching_entries([entry, other]) == [entry, other]


# --- education ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "rank"),
    [
        ("高中", 1),
        ("中专", 1),
        ("High School", 1),
        ("大专", 2),
        ("college", 2),
        ("本科", 3),
        ("本科学历", 3),
        ("全日制本科", 3),
        ("Bachelor's degree", 3),
        ("硕士", 4),
        ("研究生", 4),
        ("master", 4),
        ("博士", 5),
        ("博士研究生", 5),
        ("PhD", 5),
    ],
)
def test_education_rank_recognises_variants(level, rank):
    assert education_rank(level) == rank


@pytest.mark.parametrize("level", [None, "", "自学成才", "unknown"])
def test_education_rank_unrecognised_is_none(level):
    assert education_rank(level) is None


def test_education_met_unmet_unknown():
    met = check_one(EDUCATION, CandidateFacts(education="硕士"))
    assert (met.outcome, met.required, met.found) == (Outcome.MET, "本科", "硕士")
    assert check_one(EDUCATION, CandidateFacts(education="本科")).outcome is Outcome.MET
    unmet = check_one(EDUCATION, CandidateFacts(education="大专"))
    assert (unmet.outcome, unmet.found) == (Outcome.UNMET, "大专")
    assert check_one(EDUCATION, CandidateFacts()).outcome is Outcome.UNKNOWN
    odd = check_one(EDUCATION, CandidateFacts(education="自学"))
    assert (odd.outcome, odd.found) == (Outcome.UNKNOWN, "自学")


# --- years ----------------------------------------------------------------------------


def test_years_met_with_evidence():
    facts = CandidateFacts(
        work_history=(
            job("2019.03", "2022.06", company="万达广场", industry="商场", title="店长"),
            job("2015.01", "2016.12", company="某科技", industry="互联网", title="工程师"),
        )
    )
    result = check_one(RETAIL_YEARS, facts)
    assert result.outcome is Outcome.MET
    assert (result.kind, result.label, result.required, result.found) == (
        "years",
        "零售管理经验",
        "3",
        "3.3",
    )
    assert result.evidence == ("2019.03–2022.06 万达广场 店长",)


def test_years_unmet_when_no_job_matches():
    facts = CandidateFacts(work_history=(job("2015.01", "2020.12", industry="互联网"),))
    result = check_one(RETAIL_YEARS, facts)
    assert (result.outcome, result.found, result.evidence) == (Outcome.UNMET, "0.0", ())


def test_years_unknown_without_any_history():
    result = check_one(RETAIL_YEARS, CandidateFacts(education="本科"))
    assert (result.outcome, result.found, result.evidence) == (Outcome.UNKNOWN, "", ())


def test_years_overlapping_jobs_are_not_double_counted():
    spec = {**RETAIL_YEARS, "min_years": 4.5}
    facts = CandidateFacts(work_history=(job("2018.01", "2020.12"), job("2020.06", "2021.12")))
    result = check_one(spec, facts)
    assert (result.outcome, result.found, result.required) == (Outcome.UNMET, "4.0", "4.5")


def test_years_whole_calendar_years_meet_threshold_despite_leap_days():
    # 2021-2023 has no leap day, so it is 1095 days: a hair under 3 × 365.25.
    result = check_one(RETAIL_YEARS, CandidateFacts(work_history=(job("2021.01", "2023.12"),)))
    assert (result.outcome, result.found) == (Outcome.MET, "3.0")
    short = check_one(RETAIL_YEARS, CandidateFacts(work_history=(job("2021.01", "2023.10"),)))
    assert (short.outcome, short.found) == (Outcome.UNMET, "2.8")


def test_years_open_ended_job_uses_today_and_marks_open_end():
    facts = CandidateFacts(work_history=(job("2022.07", None, company="优衣库"),))
    early = check_requirements([RETAIL_YEARS], facts, today=date(2025, 1, 1))[0]
    late = check_requirements([RETAIL_YEARS], facts, today=date(2025, 7, 1))[0]
    assert (early.outcome, early.found) == (Outcome.UNMET, "2.5")
    assert (late.outcome, late.found) == (Outcome.MET, "3.0")
    assert late.evidence == ("2022.07–至今 优衣库 店长",)


# --- reference case: 店长 -------------------------------------------------------------


def test_reference_store_manager_one_year_only_is_unmet_then_met_with_mall_job():
    current = job("2024.07", None, company="万达广场", industry="零售", title="店长")
    facts = CandidateFacts(work_history=(current,))
    result = check_one(RETAIL_YEARS, facts)
    assert (result.outcome, result.found) == (Outcome.UNMET, "1.0")
    assert check_one(STORE_MANAGER_YEARS, facts).outcome is Outcome.MET

    mall = job("2022.01", "2024.06", company="银泰百货", industry="商场", title="楼层经理")
    assert merged_years([mall], today=TODAY) == pytest.approx(2.5, abs=0.01)
    richer = CandidateFacts(work_history=(current, mall))
    result = check_one(RETAIL_YEARS, richer)
    assert (result.outcome, result.found) == (Outcome.MET, "3.5")
    assert result.evidence == ("2022.01–2024.06 银泰百货 楼层经理", "2024.07–至今 万达广场 店长")
    # A floor manager is not a store manager, so that sub-requirement stays at one year.
    assert check_one(STORE_MANAGER_YEARS, richer).found == "1.0"


def test_reference_full_position_verdicts_in_config_order():
    facts = CandidateFacts(
        work_history=(
            job("2024.07", None, company="万达广场", title="店长"),
            job("2021.01", "2024.06", company="银泰百货", industry="商场", title="楼层主管"),
        ),
        education="全日制本科",
        achievements="每月策划会员社群活动，周末客流提升30%；团队留存率达到90%。",
    )
    results = check_requirements(STORE_MANAGER_POSITION, facts, today=TODAY)
    assert [r.label for r in results] == [s["label"] for s in STORE_MANAGER_POSITION]
    assert [r.outcome for r in results] == [Outcome.MET] * 5
    assert results[3].evidence == ("社群", "活动", "客流")
    assert results[4].found == "90%"


# --- keywords -------------------------------------------------------------------------


def test_keywords_met_lists_matches():
    result = check_one(TRAFFIC, CandidateFacts(achievements="负责门店社群运营和节日活动"))
    assert (result.outcome, result.evidence, result.required) == (
        Outcome.MET,
        ("社群", "活动"),
        "1",
    )


def test_keywords_are_case_insensitive():
    result = check_one(TRAFFIC, CandidateFacts(achievements="Grew weekend TRAFFIC by 20%"))
    assert (result.outcome, result.evidence) == (Outcome.MET, ("traffic",))


def test_keywords_unmet_when_text_has_none():
    result = check_one(TRAFFIC, CandidateFacts(achievements="负责财务报表"))
    assert (result.outcome, result.evidence, result.found) == (Outcome.UNMET, (), "0")


def test_keywords_unknown_when_text_empty():
    assert check_one(TRAFFIC, CandidateFacts(achievements="  ")).outcome is Outcome.UNKNOWN


def test_keywords_min_matches():
    spec = {**TRAFFIC, "min_matches": 2}
    one = check_one(spec, CandidateFacts(achievements="做过社群"))
    two = check_one(spec, CandidateFacts(achievements="做过社群和活动"))
    assert (one.outcome, one.required) == (Outcome.UNMET, "2")
    assert two.outcome is Outcome.MET


# --- figure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("团队留存率达到90%", "90%"),
        ("员工留存 92%", "92%"),
        ("team retention 88%", "88%"),
        ("Retention rate: 85 %", "85%"),
        ("核心团队留存率９０％", "90%"),
        ("留存率保持在85.5%以上", "85.5%"),
        ("留存率从70%提升到95%", "95%"),
    ],
)
def test_figure_met(text, found):
    result = check_one(RETENTION, CandidateFacts(achievements=text))
    assert (result.outcome, result.found, result.required) == (Outcome.MET, found, "85")


def test_figure_unmet_reports_best_value_and_snippet():
    result = check_one(RETENTION, CandidateFacts(achievements="销售额增长120%，团队留存率80%"))
    assert (result.outcome, result.found) == (Outcome.UNMET, "80%")
    assert result.evidence == ("留存率80%",)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "团队建设很好，留存不错",
        "留存率很高",
        "团队留存情况在行业内一直名列前茅，销售增长90%",
        "销售增长90%，留存很好",
        "留存了 90 名会员",
    ],
)
def test_figure_unknown_without_a_nearby_value_with_unit(text):
    result = check_one(RETENTION, CandidateFacts(achievements=text))
    assert (result.outcome, result.found, result.evidence) == (Outcome.UNKNOWN, "", ())


def test_figure_value_shared_by_two_keywords_is_reported_once():
    spec = {**RETENTION, "keywords": ["留存", "留存率"]}
    result = check_one(spec, CandidateFacts(achievements="留存率90%"))
    assert result.evidence == ("留存率90%",)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"kind": "salary", "label": "x"}, "kind"),
        ({"label": "x"}, "kind"),
        ({"kind": "education", "min_level": "本科"}, "label"),
        ({"kind": "years", "label": "x"}, "min_years"),
        ({"kind": "years", "label": "x", "min_years": -1}, "min_years"),
        ({"kind": "years", "label": "x", "min_years": True}, "min_years"),
        ({"kind": "years", "label": "x", "min_years": 3, "titles": "店长"}, "titles"),
        ({"kind": "years", "label": "x", "min_years": 3, "industries": [""]}, "industries"),
        ({"kind": "education", "label": "x", "min_level": "幼儿园"}, "min_level"),
        ({"kind": "keywords", "label": "x", "any": []}, "any"),
        ({"kind": "keywords", "label": "x", "any": ["a"], "min_matches": 0}, "min_matches"),
        ({"kind": "keywords", "label": "x", "any": ["a"], "min_matches": 2}, "min_matches"),
        ({"kind": "figure", "label": "x", "keywords": ["a"], "unit": "%"}, "min_value"),
        ({"kind": "figure", "label": "x", "keywords": ["a"], "min_value": 1}, "unit"),
        (
            {"kind": "figure", "label": "x", "keywords": [], "min_value": 1, "unit": "%"},
            "keywords",
        ),
    ],
)
def test_validate_requirement_names_the_bad_field(spec, field):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        validate_requirement(spec)


@pytest.mark.parametrize("spec", STORE_MANAGER_POSITION)
def test_validate_requirement_accepts_reference_specs(spec):
    validate_requirement(spec)


def test_check_requirements_validates_all_before_evaluating():
    with pytest.raises(ValueError, match=r"^kind: "):
        check_requirements(
            [EDUCATION, {"kind": "vibes", "label": "x"}], CandidateFacts(), today=TODAY
        )


def test_outcome_values_are_plain_strings():
    assert [str(o) for o in Outcome] == ["met", "unmet", "unknown"]
