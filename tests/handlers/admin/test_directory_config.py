"""``[directory]``: roles by rule, the safety share, matching key; bad values named by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.directory import DEFAULT_ROLE_RULES
from bot.config.schema import ConfigError, load_config


def config_of(tmp_path: Path, text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, env=env or {})


def test_defaults_and_a_full_section(tmp_path: Path) -> None:
    assert config_of(tmp_path, "").directory.roles == DEFAULT_ROLE_RULES
    directory = config_of(tmp_path, """
[directory]
match_by = "employee_no"
max_deactivate_share = "5%"
nightly_at = "03:15"
[directory.roles]
hr = ["dept:总部/人事部", " title:招聘 "]
admin = "head:信息部"
""").directory
    assert directory.match_by == "employee_no" and directory.max_deactivate_share == 0.05
    assert directory.roles == {"hr": ("dept:总部/人事部", "title:招聘"), "admin": ("head:信息部",)}
    assert str(directory.nightly_at) == "03:15:00"


def test_roles_from_env_as_json(tmp_path: Path) -> None:
    env = {"HRBOT_DIRECTORY_ROLES": '{"leader": ["leaders"]}'}
    assert config_of(tmp_path, "", env).directory.roles == {"leader": ("leaders",)}


@pytest.mark.parametrize(("text", "message"), [
    ('[directory.roles]\nboss = ["everyone"]', "unknown role"),
    ('[directory.roles]\nhr = ["members:人事"]', "unknown rule"),
    ('[directory.roles]\nhr = ["dept:"]', "unknown rule"),
    ("[directory]\nmax_deactivate_share = 0", "above 0"),
    ("[directory]\nmax_deactivate_share = \"lots\"", "share"),
    ('[directory]\nmatch_by = "name"', "mobile, employee_no"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match="directory") as err:
        config_of(tmp_path, text)
    assert message in str(err.value)
