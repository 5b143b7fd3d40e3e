"""Operator routes and logs: /readyz follows the database, /metrics counts what flows and
reads the queues at scrape time, JSON log lines carry no mobile numbers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from bot.cli.local_chat import LocalChat
from bot.config.schema import load_config
from bot.core.log import JsonFormatter
from bot.pipeline.intake import EventIntake
from bot.pipeline.messenger import OutboundMessage, TransientDeliveryError
from bot.serve.server import build_app
from storage.db import SessionFactory, session_scope
from storage.repo.due import schedule_due_item
from tests._support.clock import FakeClock
from tests.e2e.test_faults import FlakyDatabase, message


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, rest = key.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if metric == name and got == want:
            return float(value)
    return 0.0


async def test_readyz_follows_the_database(demo: SessionFactory, clock: FakeClock) -> None:
    flaky = FlakyDatabase(demo)
    chat = LocalChat(session_factory=flaky, clock=clock)  # type: ignore[arg-type]
    app = build_app([], EventIntake(chat.dispatcher))
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 200
        flaky.down = True
        answer = await client.get("/readyz")
        assert answer.status == 503 and await answer.json() == {
            "ok": False, "database": "unavailable"}
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/metrics")).status == 200  # counters still served


class Throttled:
    async def deliver(self, message: OutboundMessage) -> None:
        raise TransientDeliveryError("wecom /cgi-bin/message/send: HTTP 429")


async def test_metrics_count_events_latency_errors_and_read_the_queues(
    demo: SessionFactory, clock: FakeClock
) -> None:
    chat = LocalChat(session_factory=demo, clock=clock)
    app = build_app([], EventIntake(chat.dispatcher))
    async with TestClient(TestServer(app)) as client:
        before = await (await client.get("/metrics")).text()
        chat.worker.messenger = Throttled()
        await chat.dispatcher.accept(message("m", 1, "E020", "帮助"))
        await chat.say("E020", "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%")
        async with session_scope(demo) as session:
            await schedule_due_item(session=session, kind="sla.remind", subject="x",
                                    due_at=clock() - timedelta(seconds=90), now=clock())
        clock.advance(seconds=30)
        answer = await client.get("/metrics")
        assert answer.headers["Content-Type"].startswith("text/plain")
        after = await answer.text()

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("hrbot_events_in_total", platform="shell") == 1  # only the accepted one
    assert grew("hrbot_handler_seconds_count", platform="shell") == 1
    assert grew("hrbot_platform_errors_total", platform="shell", code="throttled") >= 2
    assert sample(after, "hrbot_outbox_depth") >= 2  # the referral's messages wait
    assert sample(after, "hrbot_outbox_oldest_age_seconds") == 30
    assert sample(after, "hrbot_due_lag_seconds") == 120


def test_json_log_lines_are_objects_without_mobiles() -> None:
    record = logging.LogRecord("hrbot.dispatch", logging.WARNING, __file__, 1,
                               "candidate %s refused", ("13800138000",), None)
    record.event_id = "ev-1"
    try:
        raise ValueError("phone 13912345678")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "hrbot.dispatch"
    assert entry["message"] == "candidate 138****8000 refused"
    assert entry["event_id"] == "ev-1"
    assert "139****5678" in entry["exception"]
    assert "13800138000" not in line and "13912345678" not in line


def test_log_format_is_configurable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "c.toml"
    path.write_text('[log]\nformat = "json"\nlevel = "INFO"\n', encoding="utf-8")
    config = load_config(path, env={})
    assert (config.log.format, config.log.level) == ("json", "INFO")
    assert load_config(path, env={"HRBOT_LOG_FORMAT": "text"}).log.format == "text"
