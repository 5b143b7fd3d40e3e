"""Configuration reaches the handlers: SLA hours, reminder ladder, quiet hours, platforms."""

from __future__ import annotations

from datetime import time, timedelta

from bot.config.schema import load_config
from bot.config.settings import settings_from_config


def test_settings_follow_the_config_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(
        'locale = "en"\n[sla]\nhr_review = "12h"\nleader_approval = "2d"\n'
        "reminder_fractions = [0.25, 0.75, 1.0]\n"
        '[quiet_hours]\nstart = "22:00"\nend = "07:45"\nweekends = false\n',
        encoding="utf-8",
    )
    settings = settings_from_config(load_config(path, env={}))
    assert settings.locale == "en"
    assert settings.sla("hr_review") == timedelta(hours=12)
    assert settings.sla("leader_approval") == timedelta(days=2)
    assert settings.sla("hr_review", {"hr_review": 6}) == timedelta(hours=6)
    assert settings.reminder_fractions == (0.25, 0.75, 1.0)
    assert (settings.quiet_start, settings.quiet_end) == (time(22, 0), time(7, 45))
    assert settings.quiet_weekends is False
    assert settings.platforms == ("dingtalk", "wecom")  # none configured: reach either
