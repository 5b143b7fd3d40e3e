"""Text parsing for referral commands typed into DingTalk / WeCom chats.

Everything here is pure. Problems are reported as field names, labels or raw
segments rather than sentences, because the card templates own all wording.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from bot.core.text import clean_lines as _clean
from bot.core.text import normalize_text

# Labels are matched case-insensitively with inner spaces collapsed.
_ALIAS_GROUPS = {
    "position": "岗位|职位|推荐岗位|应聘岗位|position|job",
    "name": "姓名|名字|候选人|候选人姓名|name|candidate",
    "phone": "电话|手机|手机号|手机号码|电话号码|联系电话|联系方式|phone|mobile|tel|phone number",
    "email": "邮箱|邮件|电子邮箱|email|e-mail|mail",
    "education": "学历|最高学历|education|degree",
    "experience": "经历|工作经历|工作经验|履历|experience|work experience",
    "achievements": "业绩|成就|主要业绩|工作业绩|achievements|achievement",
    "reason": "理由|推荐理由|原因|reason",
    "resume": "简历|简历链接|resume|cv",
    "note": "备注|说明|note|notes|remark",
}
FIELD_ALIASES: dict[str, str] = {
    label: canonical for canonical, labels in _ALIAS_GROUPS.items() for label in labels.split("|")
}

_SPACES = re.compile(r"\s+")
# Text reaching the one-line parser went through _clean: spaces and newlines only, and
# the user's own Chinese punctuation (，；：), which separates like its ASCII twin.
_SEPARATORS = " \n,;，；"
_TOKEN = re.compile(r"[^\s,;，；]+")
_ALIAS_ALT = "|".join(re.escape(a) for a in sorted(FIELD_ALIASES, key=len, reverse=True))
# "姓名:张三,电话:138" is split only before known labels; other commas stay in values.
_PAIR_SPLIT = re.compile(rf"[,;，；]\s*(?=(?:{_ALIAS_ALT})\s*[:：])", re.IGNORECASE)
# Bullets, emoji and "1." numbering may precede a label; a label never holds digits, which
# keeps times ("10:30") and one-line referrals with a colon in the reason out.
_LABEL_LINE = re.compile(
    r"[^\w:：]*(?:[0-9]{1,2}[.)）、][^\w:：]*)?"
    r"(?P<label>[^\W\d_](?:[^\W\d]|-)*(?: [A-Za-z](?:[^\W\d]|-)*){0,2})"
    r"[^\w\s:：]?\s*[:：](?!//)\s*(?P<value>.*)"
)
_MAX_UNKNOWN_LABEL = 16
_PHONE_STRICT = re.compile(
    r"(?:[(（]?(?:\+|00)?86[)）]?[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?=[\s,;，；]|$)"
)
# A near-miss number ("12345", a landline) still fills the contact slot so it is reported
# as an invalid phone; a year ("2019") or year range ("2020-2023") starts the reason.
_PHONE_LOOSE = re.compile(
    r"(?![0-9]{4}-[0-9]{4}(?:[\s,;，；]|$))[+(（]?[0-9][0-9()（）-]*(?=[\s,;，；]|$)"
)
_MIN_PHONE_DIGITS = 5
_EMAIL_TOKEN = re.compile(r"[^\s,;，；@]+@[^\s,;，；@]+(?=[\s,;，；]|$)")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_EMAIL = re.compile(r"[^\s@]+@(?:[^\s@.]+\.)+[^\s@.]+")

_CN_DIGITS = "零一二两三四五六七八九十百千万亿"
# Whole numeral runs only (possessive, run start): keeps "千万别" out and the scan linear.
_CN_UNITS = "%人年月天次倍家店元岁项届周场单成"
_CN_NUMBER = re.compile(rf"(?<![{_CN_DIGITS}])[{_CN_DIGITS}]++(?=[{_CN_UNITS}])")
_CN_PERCENT = re.compile(rf"百分之[{_CN_DIGITS}]+")
_RESULT_WORDS = re.compile(
    r"提升|增长|降低|获得|荣获|完成|达成|超额|带领|冠军|奖|第一|业绩|开业|翻倍|%|[0-9]"
    r"|\b(?:increase[ds]?|grew|growth|reduced?|award(?:s|ed)?|led|won|saved)\b",
    re.IGNORECASE,
)

# Highest level first, so free text naming several levels yields the highest.
_EDUCATION = {
    "博士": re.compile(r"博士|\bph\.?\s?d\b|\bdoctorate\b", re.I),
    "硕士": re.compile(r"硕士|研究生|\bmasters?\b|\bmba\b", re.I),
    "本科": re.compile(r"本科|学士|\bbachelors?\b|\bundergraduate\b", re.I),
    "大专": re.compile(r"大专|专科|\bcollege\b|\bassociate\b", re.I),
    "高中": re.compile(r"高中|\bhigh\s*school\b", re.I),
    "中专": re.compile(r"中专|职高|技校|\bvocational\b", re.I),
}


def _date_pattern(prefix: str) -> str:
    # Month after '-' must not be followed by a digit, so "2019-2021" reads as a year range.
    return (
        rf"(?P<{prefix}y>[0-9]{{4}})(?:\s*年(?:\s*(?P<{prefix}m>[0-9]{{1,2}})\s*月)?"
        rf"|[./-](?P<{prefix}n>[0-9]{{1,2}})(?![0-9]))?"
    )


_ENTRY = re.compile(
    rf"{_date_pattern('s')}\s*(?:-|–|—|~|〜|至|到)\s*"
    rf"(?:(?P<open>至今|现在|今|now|present|current)|{_date_pattern('e')})(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_BULLET = re.compile(r"^(?:[-*•·>]+|[0-9]{1,2}[.)、])\s*(?=[0-9])")
_ENTRY_SPLIT = re.compile(r"[\n;；]")
_ENTRY_TOKENS = re.compile(r"[\s,|、]+")


@dataclass
class ReferralForm:
    """Fields recovered from a referral message.

    Attributes:
        fields: Canonical field name to raw value, only for fields the user gave.
        unknown_labels: Labels of "label: value" lines that match no known field.
    """

    fields: dict[str, str] = field(default_factory=dict)
    unknown_labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedEntry:
    """One work-history entry; ``end`` is None for an ongoing job."""

    start: date
    end: date | None
    company: str
    industry: str
    title: str

    def to_dict(self) -> dict[str, str | None]:
        """The form stored in ``Candidate.work_history``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "company": self.company,
            "industry": self.industry,
            "title": self.title,
        }


def _match_label(line: str) -> tuple[str | None, str, str] | None:
    match = _LABEL_LINE.match(line)
    if match is None:
        return None
    label = match["label"]
    canonical = FIELD_ALIASES.get(" ".join(label.lower().split()))
    if canonical is None and len(label) > _MAX_UNKNOWN_LABEL:
        return None
    return canonical, label, match["value"].strip()


def _split_lines(text: str) -> list[str]:
    lines = (part.strip() for line in text.split("\n") for part in _PAIR_SPLIT.split(line))
    return [line for line in lines if line]


_ADDITIVE = frozenset({"experience", "achievements", "note"})


def _parse_labelled(lines: list[str], form: ReferralForm) -> None:
    current: str | None = None
    for line in lines:
        hit = _match_label(line)
        if hit is None:
            # Text before any label, or under an unknown label, has no field to join.
            if current is not None:
                previous = form.fields[current]
                form.fields[current] = f"{previous}\n{line}" if previous else line
            continue
        current, label, value = hit
        if current is None:
            form.unknown_labels.append(label)
        elif current in _ADDITIVE and form.fields.get(current):
            # Several `经历:` lines are several jobs, not a correction of the first.
            form.fields[current] = f"{form.fields[current]}\n{value}"
        else:
            form.fields[current] = value


def _take_contacts(rest: str, fields: dict[str, str]) -> tuple[str, bool]:
    found = False
    while rest:
        match = None
        if "phone" not in fields:
            match = _PHONE_STRICT.match(rest) or _PHONE_LOOSE.match(rest)
            if match and sum(ch.isdigit() for ch in match[0]) >= _MIN_PHONE_DIGITS:
                fields["phone"] = match[0]
            else:
                match = None
        if match is None and "email" not in fields and (match := _EMAIL_TOKEN.match(rest)):
            fields["email"] = match[0]
        if match is None:
            break
        rest, found = rest[match.end() :].lstrip(_SEPARATORS), True
    return rest, found


def _take_token(rest: str) -> tuple[str, str]:
    match = _TOKEN.match(rest)
    return (match[0], rest[match.end() :].lstrip(_SEPARATORS)) if match else ("", rest)


_LATIN_NAME = re.compile(r"[A-Za-z][A-Za-z'.-]*")


def _take_spaced_name(rest: str, fields: dict[str, str]) -> str:
    """"Tom Li 138…": a Latin name may be two or three words, if a contact follows them."""
    if not _LATIN_NAME.fullmatch(fields["name"]):
        return rest
    words, tail = [fields["name"]], rest
    for _ in range(2):
        word, tail = _take_token(tail)
        if not _LATIN_NAME.fullmatch(word):
            return rest
        words.append(word)
        probe: dict[str, str] = {}
        after, found = _take_contacts(tail, probe)
        if found:
            fields.update(probe, name=" ".join(words))
            return after
    return rest


def _parse_one_line(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    position, rest = _take_token(text.lstrip(_SEPARATORS))
    if not position:
        return fields
    fields["position"] = position
    rest, found = _take_contacts(rest, fields)
    if not found and rest:
        fields["name"], rest = _take_token(rest)
        rest, found = _take_contacts(rest, fields)
        if not found:
            rest = _take_spaced_name(rest, fields)
    if rest.strip():
        fields["reason"] = rest.strip()
    return fields


def parse_referral(rest: str) -> ReferralForm:
    """Parse the normalised text that follows a referral command word.

    Lines before the first "label: value" line are read in one-line form (position, name,
    phone and/or email, then the reason verbatim). In labelled lines an unlabelled line
    continues the previous field; labelled values override one-line ones.
    """
    lines = _split_lines(_clean(rest))
    first_label = next((i for i, line in enumerate(lines) if _match_label(line)), len(lines))
    form = ReferralForm(fields=_parse_one_line("\n".join(lines[:first_label])))
    _parse_labelled(lines[first_label:], form)
    return form


def parse_fields(text: str) -> ReferralForm:
    """Parse only the "label: value" lines of a raw message, e.g. a follow-up to a draft."""
    form = ReferralForm()
    _parse_labelled(_split_lines(normalize_text(text)), form)
    return form


def normalize_phone(raw: str) -> str | None:
    """Return an 11-digit mainland mobile number, or None if ``raw`` is not one."""
    digits = re.sub(r"[\s()-]", "", unicodedata.normalize("NFKC", raw))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else None


def mask_phone(phone: str) -> str:
    """Mask a phone for display: ``138****8000``; other values keep 3 + 2 characters."""
    if len(phone) == 11 and phone.isascii() and phone.isdigit():
        return f"{phone[:3]}****{phone[-4:]}"
    if len(phone) <= 5:
        # Too short to reveal any part without revealing most of it.
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 5)}{phone[-2:]}"


def normalize_email(raw: str) -> str | None:
    """Return the lower-cased address if it passes a basic syntax check, else None."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    return email if len(email) <= 254 and _EMAIL.fullmatch(email) else None


def is_concrete_reason(reason: str) -> bool:
    """Tell whether a referral reason names at least one checkable fact.

    A fact is a number (arabic, or a Chinese numeral with a unit / percent), or a
    result word such as 提升 / 冠军 / grew. The reason also needs 4+ non-space characters.
    """
    text = unicodedata.normalize("NFKC", reason)
    if len("".join(text.split())) < 4:
        return False
    if _RESULT_WORDS.search(text) or _CN_PERCENT.search(text):
        return True
    # A bare 一 is usually an article (一年前 / 一天到晚), not a quantity.
    return any(m[0] != "一" for m in _CN_NUMBER.finditer(text))


def _to_date(year: str | None, month: str | None) -> date | None:
    y, m = int(year or 0), int(month or 1)
    return date(y, m, 1) if 1900 <= y <= 2100 and 1 <= m <= 12 else None


def _parse_entry(segment: str) -> ParsedEntry | None:
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", segment)).strip()
    match = _ENTRY.match(_BULLET.sub("", text, count=1))
    if match is None:
        return None
    start = _to_date(match["sy"], match["sm"] or match["sn"])
    end = _to_date(match["ey"], match["em"] or match["en"])
    tokens = [t for t in _ENTRY_TOKENS.split(match["rest"].strip(" ,:")) if t]
    # An unparseable end date counts as bad unless the range is open (至今 / now).
    if not tokens or start is None or (end is None) != bool(match["open"]):
        return None
    if end is not None and end < start:
        return None
    company = tokens[0] if len(tokens) >= 2 else ""
    industry = tokens[1] if len(tokens) >= 3 else ""
    # Company and industry are single words; a title may contain spaces.
    title = " ".join(tokens[2:] if len(tokens) >= 3 else tokens[-1:])
    return ParsedEntry(start, end, company, industry, title)


def parse_work_history(text: str) -> tuple[list[ParsedEntry], list[str]]:
    """Parse entries like ``2019.03-至今 某公司 零售 店长`` separated by newlines or ';'.

    Returns:
        ``(entries, bad_segments)``. Every non-empty segment lands in exactly one list;
        bad ones are kept verbatim (trimmed) so nothing is dropped silently.
    """
    entries: list[ParsedEntry] = []
    bad: list[str] = []
    for segment in filter(str.strip, _ENTRY_SPLIT.split(text)):
        if entry := _parse_entry(segment):
            entries.append(entry)
        else:
            bad.append(segment.strip())
    return entries, bad


def parse_education(text: str) -> str | None:
    """Return the highest education level named in ``text`` (e.g. 研究生 -> 硕士), or None."""
    text = unicodedata.normalize("NFKC", text)
    return next((level for level, pattern in _EDUCATION.items() if pattern.search(text)), None)
