"""`hrbot report`: the statistics (or the bonus payroll list) as CSV, XLSX or HTML files.

The same figures as the `统计` card, laid out as tables: CSV puts them one after another
(a title row, a header row, the rows, a blank row), XLSX one sheet each with the chart on the
summary sheet, HTML one page with the chart embedded. Words come from the locale's
``_report.j2`` and ``_insight.j2`` templates.
"""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.core.context import Settings
from cards.render import DEFAULT_LOCALE, TEMPLATE_ROOT
from handlers.insight.bonus import bonus_view
from handlers.insight.chart import render_chart
from handlers.insight.scope import StatsQuery
from handlers.insight.stats import build_stats
from handlers.insight.sync import sync_referrals
from storage.db import SessionFactory, session_scope
from storage.repo.insight_bonus import list_bonuses

FORMATS = ("csv", "xlsx", "html")
KINDS = ("stats", "bonus")


@dataclass
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[Any]]


@dataclass
class Report:
    title: str
    scope: str
    window: str
    generated: datetime
    tables: list[Table] = field(default_factory=list)
    chart: bytes | None = None


@cache
def _environment(locale: str) -> Environment:
    folders = [TEMPLATE_ROOT / locale] if locale != DEFAULT_LOCALE else []
    folders.append(TEMPLATE_ROOT / DEFAULT_LOCALE)
    # An HTML report shows names people typed: escape everything by default.
    return Environment(
        loader=FileSystemLoader([str(f) for f in folders if f.is_dir()]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _words(locale: str, name: str) -> Any:
    return _environment(locale).get_template(name).module


async def build_report(
    factory: SessionFactory,
    settings: Settings,
    *,
    kind: str,
    scope: str,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> Report:
    """Sync the insight facts, then gather the tables of one report."""
    while True:  # commit every few batches so a long backlog does not make one transaction
        async with session_scope(factory) as session:
            if not await sync_referrals(session, now=now, settings=settings, batches=20):
                break
    labels, words = _words(settings.locale, "_report.j2"), _words(settings.locale, "_insight.j2")
    tz = settings.tz
    window = str(words.window(
        since.astimezone(tz) if since else None,
        (until - timedelta(days=1)).astimezone(tz) if until else None,
    ))
    async with factory() as session:
        if kind == "bonus":
            rows = await list_bonuses(session=session, scope=scope, since=since, limit=None)
            views = [await bonus_view(session, b, now) for b in rows]
            report = Report(labels.bonus_title, scope, window, now)
            report.tables.append(_bonus_table(views, labels, words, settings))
            return report
        view = await build_stats(
            session, StatsQuery(scope, since, until), now=now, settings=settings
        )
    report = Report(labels.title, scope, window, now, _stats_tables(view, labels, words, window))
    report.chart = render_chart(view) if view["total"] else None
    return report


def _table(labels: Any, key: str, columns: list[str], rows: list[list[Any]]) -> Table:
    return Table(key, labels.sections[key], [labels.columns[c] for c in columns], rows)


def _groups(
    view: dict[str, Any], key: str, names: dict[str, str] | None = None
) -> list[list[Any]]:
    return [[(names or {}).get(g["name"], g["name"]), g["n"], g["hired"], g["rate"]]
            for g in view[key]]


def _stats_tables(
    view: dict[str, Any], labels: Any, words: Any, window: str
) -> list[Table]:
    m = labels.metrics
    slowest = view["slowest"]
    tables = [_table(labels, "summary", ["metric", "value"], [
        [m["scope"], view["scope"] or labels.everyone], [m["window"], window],
        [m["total"], view["total"]],
        [m["hired"], view["hired"]], [m["hire_rate"], view["hire_rate"]],
        [m["open"], view["open"]],
        [m["slowest"], words.stages.get(slowest["stage"], slowest["stage"]) if slowest else ""],
        [m["slowest_p50_h"], slowest["p50_h"] if slowest else ""],
    ])]
    tables.append(_table(labels, "funnel", ["stage", "n", "rate"], [
        [words.funnel.get(f["stage"], f["stage"]), f["n"], f["rate"]] for f in view["funnel"]
    ]))
    tables.append(_table(labels, "stages", ["stage", "count", "p50_h", "p90_h", "mean_h"], [
        [words.stages.get(s["stage"], s["stage"]), s["n"], s["p50_h"], s["p90_h"], s["mean_h"]]
        for s in view["stages"]
    ]))
    tables.append(_table(labels, "requirements", ["label", "outcome", "n", "hired", "hire_rate"], [
        [r["label"], words.outcomes[o], r[o]["n"], r[o]["hired"], r[o]["rate"]]
        for r in view["requirements"] for o in ("met", "unmet", "unknown") if r[o]["n"]
    ]))
    tables.append(_table(labels, "scores", ["band", "n", "hired", "hire_rate"], [
        [labels.bands[b["low"]], b["n"], b["hired"], b["rate"]] for b in view["scores"]
    ]))
    for key in ("referrers", "stores", "positions"):
        tables.append(_table(labels, key, ["name", "n", "hired", "hire_rate"], _groups(view, key)))
    tables.append(_table(labels, "sources", ["name", "n", "hired", "hire_rate"],
                         _groups(view, "sources", words.sources)))
    tables.append(_table(labels, "sla", ["name", "late", "open"], [
        [a["name"], a["late"], a["open"]] for a in view["sla"]
    ]))
    recall = view["recall"]
    tables.append(_table(labels, "recall", ["group", "sent", "replied", "rate", "rehired"], [
        *[[words.recall_stages.get(r["stage"], r["stage"]), r["sent"], r["replied"], r["rate"],
           r["rehired"]] for r in recall["stages"]],
        *[[words.senders.get(r["kind"], r["kind"]), r["sent"], r["replied"], r["rate"],
           r["rehired"]] for r in recall["senders"]],
    ]))
    return tables


def _bonus_table(
    views: list[dict[str, Any]], labels: Any, words: Any, settings: Settings
) -> Table:
    columns = ["id", "candidate", "position", "org", "referrer", "employee_no", "first_over",
               "hired_at", "eligible_at", "amount", "status", "note"]

    def day(value: datetime) -> str:
        return value.astimezone(settings.tz).strftime("%Y-%m-%d")

    rows = [
        [v["id"], v["candidate"], v["position"], v["org"], v["referrer"], v["employee_no"],
         v["first_over"], day(v["hired_at"]), day(v["eligible_at"]), v["amount"],
         words.bonus_status.get(v["status"], v["status"]), v["note"]]
        for v in views
    ]
    return _table(labels, "bonus", columns, rows)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def write_csv(report: Report, out: TextIO) -> None:
    """Every table in turn: its title, its header, its rows, then a blank line."""
    writer = csv.writer(out)
    for table in report.tables:
        writer.writerow([table.title])
        writer.writerow(table.header)
        writer.writerows([[_cell(v) for v in row] for row in table.rows])
        writer.writerow([])


def write_xlsx(report: Report, path: Path) -> None:
    """One sheet per table; the chart goes on the first sheet, right of the summary."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image

    book = Workbook()
    book.remove(book.active)
    for table in report.tables:
        # Excel caps sheet names at 31 characters and forbids a few symbols.
        name = "".join(c for c in table.title if c not in "[]:*?/\\")[:31]
        sheet = book.create_sheet(name or table.key)
        sheet.append(table.header)
        for row in table.rows:
            sheet.append([_cell(v) for v in row])
        for letter, width in zip("ABCDEFGHIJKL", _widths(table), strict=False):
            sheet.column_dimensions[letter].width = width
    if report.chart and report.tables:
        import io

        book.worksheets[0].add_image(Image(io.BytesIO(report.chart)), "D2")
    book.save(path)


def _widths(table: Table) -> list[int]:
    columns = zip(table.header, *table.rows, strict=False)
    return [min(60, max(8, *(len(str(_cell(v))) * 2 for v in column))) for column in columns]


def render_html(report: Report, locale: str) -> str:
    """One HTML page: the chart embedded, then every table (names escaped)."""
    chart = base64.b64encode(report.chart).decode() if report.chart else ""
    template = _environment(locale).get_template("report.html.j2")
    return template.render(r=report, chart=chart, words=_words(locale, "_report.j2"))


def parse_day(text: str) -> datetime:
    """A ``YYYY-MM-DD`` argument as a naive date-time (the deployment's zone is applied later)."""
    return datetime.strptime(text, "%Y-%m-%d")


async def report_command(
    factory: SessionFactory,
    settings: Settings,
    *,
    kind: str,
    fmt: str,
    out: str,
    scope: str,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    stdout: TextIO,
) -> int:
    """Build and write one report; returns the process exit code.

    Args:
        since: First day (naive, read in the deployment's zone); None: 365 days before now.
        until: Last day, included; None: up to now.
        out: File path, or "-" for standard output (not for xlsx).
    """
    if fmt == "xlsx" and out == "-":
        print("xlsx needs a file: --out report.xlsx", file=stdout)
        return 2
    tz = settings.tz
    start = since.replace(tzinfo=tz) if since else now - timedelta(days=365)
    end = until.replace(tzinfo=tz) + timedelta(days=1) if until else None
    report = await build_report(
        factory, settings, kind=kind, scope="/".join(p for p in scope.split("/") if p),
        since=start, until=end, now=now,
    )
    if fmt == "xlsx":
        write_xlsx(report, Path(out))
    elif out == "-":
        _write_text(report, fmt, settings.locale, stdout)
    else:
        with open(out, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as f:
            _write_text(report, fmt, settings.locale, f)
    rows = sum(len(t.rows) for t in report.tables)
    if out != "-":
        print(f"report: {len(report.tables)} tables, {rows} rows -> {out}", file=stdout)
    return 0


def _write_text(report: Report, fmt: str, locale: str, out: TextIO) -> None:
    if fmt == "csv":
        write_csv(report, out)
    else:
        out.write(render_html(report, locale))
