"""Composition root: configuration in, a database and a dispatcher out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config.schema import Config
from bot.core.context import Settings
from storage.db import SessionFactory, make_engine, make_session_factory


def settings_from_config(config: Config) -> Settings:
    sla = config.sla
    return Settings(
        locale=config.locale,
        timezone=config.timezone,
        sla_hours={
            stage: getattr(sla, stage).total_seconds() / 3600
            for stage in ("hr_review", "needs_info", "leader_approval", "feedback")
        },
        reminder_fractions=tuple(sla.reminder_fractions),
        escalate_after=sla.escalate_after,
        quiet_start=config.quiet_hours.start,
        quiet_end=config.quiet_hours.end,
        quiet_weekends=config.quiet_hours.weekends,
        platforms=tuple(config.platforms()) or ("dingtalk", "wecom"),
        task_platforms=("dingtalk",) if config.dingtalk and config.dingtalk.todo_url else (),
        api_quotas=(
            {"dingtalk": config.dingtalk.monthly_quota}
            if config.dingtalk and config.dingtalk.monthly_quota
            else {}
        ),
        sla_time=config.calendar.sla_time,
        work_start=config.calendar.work_start,
        work_end=config.calendar.work_end,
        public_holidays=config.calendar.public_holidays,
        timeouts=config.timeouts.as_dict(),
        recall_cadence_days=config.recall.cadence_days,
        recall_min_days_between=config.recall.min_days_between,
        recall_templates_dir=config.recall.templates_dir,
        recall_news=dict(config.recall.news),
        retention_days=config.retention.days,
        payload_retention_days=config.retention.payload_days,
    )


@dataclass
class Database:
    engine: AsyncEngine
    session_factory: SessionFactory

    async def close(self) -> None:
        await self.engine.dispose()


def open_database(config: Config) -> Database:
    engine = make_engine(config.database.url, echo=config.database.echo)
    return Database(engine=engine, session_factory=make_session_factory(engine))
