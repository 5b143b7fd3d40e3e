"""`hrbot` command line: database, imports, demo data and the terminal chat."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config.schema import Config, ConfigError, load_config
from bot.config.settings import open_database, settings_from_config
from bot.core.log import configure_logging
from storage.db import SessionFactory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrbot", description="HR referral assistant")
    parser.add_argument(
        "--config", help="TOML config file (default: $HRBOT_CONFIG or config.toml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="apply migrations up to the newest schema")
    imports = commands.add_parser("import", help="load directory or positions")
    kinds = imports.add_subparsers(dest="kind", required=True)
    kinds.add_parser("directory", help="people CSV").add_argument("file", type=Path)
    kinds.add_parser("positions", help="positions TOML").add_argument("file", type=Path)
    calendar = commands.add_parser("calendar", help="working calendar (holidays, 调休)")
    calendar_do = calendar.add_subparsers(dest="calendar", required=True)
    calendar_do.add_parser(
        "import", help="public holidays, make-up working days and closures (TOML)"
    ).add_argument("file", type=Path)
    demo = commands.add_parser("demo", help="demo org").add_subparsers(dest="demo", required=True)
    demo.add_parser("seed", help="load the demo mall chain")
    shell = commands.add_parser("shell", help="chat with the bot in the terminal")
    shell.add_argument("--as", dest="person", default="张经理", help="name or employee number")
    commands.add_parser("config", help="print the effective configuration (secrets hidden)")
    report = commands.add_parser("report", help="statistics or the bonus payroll list as a file")
    report.add_argument("--since", help="first day, YYYY-MM-DD (default: 365 days ago)")
    report.add_argument("--until", help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--scope", default="", help="org unit, e.g. 总部/华东 (default: all)")
    report.add_argument("--kind", choices=("stats", "bonus"), default="stats")
    report.add_argument("--format", choices=("csv", "xlsx", "html"), default="csv")
    report.add_argument("--out", "-o", default="-", help="file (default: standard output)")
    gdpr = commands.add_parser("gdpr", help="data-subject requests: export, erase; key rotation")
    gdpr_do = gdpr.add_subparsers(dest="gdpr", required=True)
    for name, text in (("export", "everything held about a candidate, as JSON"),
                       ("erase", "anonymise a candidate (audited)")):
        sub = gdpr_do.add_parser(name, help=text)
        sub.add_argument("--candidate", type=int, help="candidate id")
        sub.add_argument("--phone", help="the candidate's phone number")
        if name == "export":
            sub.add_argument("--out", "-o", default="-", help="file (default: standard output)")
    gdpr_do.add_parser(
        "rekey", help="re-encrypt contact data with the newest HRBOT_DATA_KEY key"
    ).add_argument("--plaintext", action="store_true", help="decrypt everything instead")
    from bot.cli.directory import add_parser as add_directory_parser

    add_directory_parser(commands)
    audit = commands.add_parser("audit", help="who read or did what to a candidate's data")
    audit.add_argument("--candidate", type=int, required=True, help="candidate id")
    doctor = commands.add_parser(
        "doctor", help="check the configuration against the platforms and the database")
    doctor.add_argument("--guide", action="store_true",
                        help="print the setup guide the checks are made from")
    serve = commands.add_parser(
        "serve",
        help="run the bot until SIGTERM: on the configured platforms, else in the sandbox",
    )
    serve.add_argument(
        "--sandbox", action="store_true",
        help="local fake DingTalk and WeCom with a web chat page, even if platforms are set",
    )
    serve.add_argument(
        "--sandbox-port", type=int, default=None, help="sandbox page port (default: port + 1)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("text", logging.WARNING)  # until the configuration says otherwise
    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2
    configure_logging(config.log.format, config.log.level)
    return asyncio.run(_run(args, config))


async def _run(args: argparse.Namespace, config: Config) -> int:
    from storage.migrate import upgrade_database

    if args.command == "serve":
        if args.sandbox or not config.platforms():
            from bot.serve.sandbox import serve_sandbox

            return await serve_sandbox(config, sandbox_port=args.sandbox_port)
        from bot.serve.assembly import serve

        return await serve(config)
    if args.command == "doctor":
        from bot.cli.doctor import doctor

        return await doctor(config, guide=args.guide)
    if args.command == "config":
        import json

        print(json.dumps(config.redacted(), ensure_ascii=False, indent=2, default=str))
        return 0
    await upgrade_database(config.database.url)
    if args.command == "db":
        print("database is at the newest schema")
        return 0
    database = open_database(config)
    try:
        if args.command == "import":
            return await _import(database.session_factory, args.kind, args.file)
        if args.command == "calendar":
            return await _import_calendar(database.session_factory, args.file)
        if args.command == "demo":
            return await _seed(database.session_factory)
        if args.command == "report":
            return await _report(database.session_factory, config, args)
        if args.command == "directory":
            from bot.cli.directory import run_directory

            return await run_directory(database.session_factory, config, args, sys.stdout)
        if args.command in ("gdpr", "audit"):
            from bot.cli.privacy import run_privacy

            return await run_privacy(database.session_factory, args)
        return await _shell(database.session_factory, config, args.person)
    finally:
        await database.close()


async def _import(factory: SessionFactory, kind: str, file: Path) -> int:
    from handlers.admin.directory_import import import_directory, import_positions
    from storage.db import session_scope

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        print(f"cannot read {file}: {err}", file=sys.stderr)
        return 2
    importer = import_directory if kind == "directory" else import_positions
    async with session_scope(factory) as session:
        report = await importer(session=session, text=text)
    print(
        f"{kind}: {report.created} created, {report.updated} updated, "
        f"{len(report.errors)} problems"
    )
    for line, problem in report.errors:
        print(f"  {file}:{line}: {problem}", file=sys.stderr)
    return 0 if report.ok else 1


async def _import_calendar(factory: SessionFactory, file: Path) -> int:
    from datetime import UTC, datetime

    from handlers.sla.calendar import import_calendar
    from handlers.sla.workcal import CalendarFileError
    from storage.db import session_scope

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        print(f"cannot read {file}: {err}", file=sys.stderr)
        return 2
    try:
        async with session_scope(factory) as session:
            report = await import_calendar(
                session=session, text=text, source=file.name, now=datetime.now(UTC)
            )
    except CalendarFileError as err:
        print(f"{file}: {err}", file=sys.stderr)
        return 1
    years = ", ".join(map(str, report.years)) or "no complete year"
    counts = report.counts
    print(
        f"calendar ({years}): {counts['holiday']} holidays, {counts['workday']} make-up "
        f"working days, {counts['closure']} closures; {report.replaced} earlier days replaced"
    )
    return 0


async def _seed(factory: SessionFactory) -> int:
    from bot.cli.demo import seed_demo

    people, positions = await seed_demo(factory)
    print(
        f"demo: {people.created + people.updated} people, "
        f"{positions.created + positions.updated} positions"
    )
    return 0 if people.ok and positions.ok else 1


async def _report(factory: SessionFactory, config: Config, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from handlers.insight.report import parse_day, report_command

    try:
        since = parse_day(args.since) if args.since else None
        until = parse_day(args.until) if args.until else None
    except ValueError as err:
        print(f"report: {err}", file=sys.stderr)
        return 2
    return await report_command(
        factory, settings_from_config(config), kind=args.kind, fmt=args.format, out=args.out,
        scope=args.scope, since=since, until=until, now=datetime.now(UTC), stdout=sys.stdout,
    )


async def _shell(factory: SessionFactory, config: Config, who: str) -> int:
    from bot.cli.local_chat import LocalChat
    from bot.cli.shell import Shell
    from bot.cli.shell_clock import ShellClock
    from storage.db import session_scope
    from storage.repo.people import list_people

    async with session_scope(factory) as session:
        people = await list_people(session=session)
    if not people:
        await _seed(factory)
        async with session_scope(factory) as session:
            people = await list_people(session=session)
    chat = LocalChat(session_factory=factory, settings=settings_from_config(config),
                     clock=ShellClock())
    me = next((p for p in people if who in (p.name, p.employee_no)), people[0])
    shell = Shell(chat, people, me, print, locale=config.locale)
    shell.banner()
    while True:
        try:
            line = await asyncio.to_thread(input, shell.prompt)
        except EOFError:
            return 0
        if not await shell.handle(line):
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
