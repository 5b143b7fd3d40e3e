"""`hrbot directory sync|roles`: the directory from DingTalk and WeCom, and who gets which role.

``sync`` reads the platforms in full, prints what changes (``--dry-run`` stops there) and
writes it all in one transaction. It refuses, changing nothing, when the org tree is broken
or when more than ``[directory] max_deactivate_share`` of the synced people would be
deactivated (``--force`` overrides). Exit codes: 0 done, 1 refused, 2 cannot read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

import httpx

from bot.config.schema import Config
from bot.config.settings import settings_from_config
from bot.core.context import JobContext
from bot.core.errors import PlatformError
from bot.pipeline.messenger import TransientDeliveryError
from bot.serve.contact_sources import contact_sources, sync_policy
from handlers.admin.directory_apply import SyncOutcome
from handlers.admin.directory_plan import Plan, Slot
from handlers.admin.directory_sync import read_all, send_outgoing, sync_snapshots
from storage.db import SessionFactory, session_scope


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    directory = commands.add_parser("directory", help="sync people and roles from the platforms")
    do = directory.add_subparsers(dest="directory", required=True)
    sync = do.add_parser("sync", help="full sync of org tree, people, leads and roles")
    roles = do.add_parser("roles", help="who gets which role by [directory.roles], and why")
    for sub in (sync, roles):
        sub.add_argument("--platform", choices=("dingtalk", "wecom"), help="only this one")
    sync.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
    sync.add_argument("--force", action="store_true",
                      help="apply even if more than max_deactivate_share would be deactivated")


async def run_directory(
    factory: SessionFactory, config: Config, args: argparse.Namespace, out: TextIO,
    *, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    platforms = (args.platform,) if args.platform else ()
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
        sources = contact_sources(config, http, clock, platforms)
        if not sources:
            print("directory: no platform configured ([dingtalk] or [wecom])", file=out)
            return 2
        try:
            snapshots = await read_all(sources)
        except (PlatformError, TransientDeliveryError) as err:
            print(f"directory: reading the platforms failed, nothing changed: {err}", file=out)
            return 2
    dry_run = args.directory == "roles" or args.dry_run
    async with session_scope(factory) as session:
        job = JobContext(session=session, now=clock(), settings=settings_from_config(config))
        outcome = await sync_snapshots(
            job, snapshots, sync_policy(config), force=getattr(args, "force", False),
            dry_run=dry_run, actor="cli:directory",
        )
        if outcome.applied:
            await send_outgoing(job, f"directory:cli:{job.now.isoformat()}")
    if args.directory == "roles":
        print_roles(outcome.plan, out)
        return 1 if outcome.plan.fatal else 0
    print_outcome(outcome, out, dry_run=dry_run)
    return 1 if outcome.blocked else 0


def _label(slot: Slot) -> str:
    person, first = slot.person, next(iter(slot.seen.values()))
    number = person.employee_no if person is not None else "new"
    return f"{first.member.name} ({number}, {first.org_path})"


def print_roles(plan: Plan, out: TextIO) -> None:
    for problem in plan.fatal:
        print(f"cannot place people: {problem}", file=out)
    for slot in sorted(plan.slots, key=lambda s: (s.values.get("org_path", ""), _label(s))):
        print(_label(slot), file=out)
        for role, rules in sorted(slot.reasons.items()):
            print(f"  {role}: {', '.join(rules)}", file=out)
        hand = sorted(set(slot.values.get("roles", [])) - set(slot.reasons))
        if hand:
            print(f"  kept as set by hand: {', '.join(hand)}", file=out)
        if not slot.values.get("roles"):
            print("  no role", file=out)


def print_outcome(outcome: SyncOutcome, out: TextIO, *, dry_run: bool) -> None:
    plan = outcome.plan
    for platform, calls in plan.calls.items():
        print(f"{platform}: {sum(calls.values())} API calls "
              f"({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))})", file=out)
    for problem in plan.fatal:
        print(f"REFUSED, nothing changed: {problem}", file=out)
    for slot in plan.changes:
        if slot.person is None:
            print(f"+ {_label(slot)} roles {', '.join(slot.values['roles']) or '-'}", file=out)
        else:
            # synced_roles is bookkeeping: the roles line already shows what changed.
            changes = sorted((k, v) for k, v in slot.changed.items() if k != "synced_roles")
            fields = ", ".join(_change(k, old, new) for k, (old, new) in changes)
            print(f"~ {_label(slot)}: {fields}", file=out)
    for person, platform in plan.unlinked:
        print(f"- {person.name} ({person.employee_no}) is no longer on {platform}", file=out)
    for person in plan.leavers:
        print(f"- {person.name} ({person.employee_no}, {person.org_path}) left", file=out)
    for conflict in plan.conflicts:
        print(f"conflict: {conflict}", file=out)
    for note in plan.notes:
        print(f"note: {note}", file=out)
    share = plan.deactivate_share()
    if outcome.blocked == "too_many_leavers":
        print(f"REFUSED, nothing changed: {len(plan.leavers)} of {plan.synced_before} people "
              f"({share:.0%}) would be deactivated; check the app's visibility range, or "
              "run again with --force", file=out)
    elif dry_run and not plan.fatal:
        print(f"dry run: {len(plan.changes)} to write, {len(plan.leavers)} leavers; "
              "nothing written", file=out)
    elif outcome.applied:
        print(f"synced: {outcome.created} created, {outcome.updated} updated, "
              f"{outcome.deactivated} deactivated, {outcome.tasks_moved} open tasks handed to "
              f"leads, {outcome.delegations_ended} delegations ended", file=out)
        if outcome.orphaned_tasks:
            print(f"no lead or HR lead to take referrals {outcome.orphaned_tasks}: reassign "
                  "them by hand (转交)", file=out)


def _change(key: str, old: object, new: object) -> str:
    if key in ("mobile_hash", "name"):
        return key  # the values are personal data
    return f"{key} {old!r} → {new!r}"
