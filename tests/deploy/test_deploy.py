"""deploy/: the entry script the container and the systemd unit run (`hrbot db upgrade`, then
`hrbot serve`), run here as a real process on a fresh database; and the container files'
conventions (no container runtime runs in CI)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx

from storage.migrate import current_revision
from tests._support.paths import ROOT as _ROOT
from tests.bot.serve.test_serve import free_port

ROOT = _ROOT
DEPLOY = ROOT / "deploy"


async def test_entry_script_migrates_a_fresh_database_then_serves_until_sigterm(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[server]\nport = {port}\n'
        '[wecom]\ncorp_id = "ww1"\nagent_id = 1000002\nsecret = "s"\ntoken = "t"\n'
        'encoding_aes_key = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"\n'
        'api_base = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HRBOT_CONFIG": str(config),
           "HRBOT": f"{sys.executable} -m bot.cli.commands"}
    process = await asyncio.create_subprocess_exec(
        "sh", str(DEPLOY / "entrypoint.sh"), cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, await process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the entry script never served"
                await asyncio.sleep(0.1)
        assert await current_revision(url) is not None  # migrated before serving
        process.send_signal(signal.SIGTERM)  # exec: the signal reaches hrbot itself
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_entry_script_stops_when_the_migration_fails(tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+asyncpg://nobody@127.0.0.1:9/none"\n',
                      encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HRBOT_CONFIG": str(config),
           "HRBOT": f"{sys.executable} -m bot.cli.commands"}
    done = subprocess.run(["sh", str(DEPLOY / "entrypoint.sh")], cwd=tmp_path, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode != 0  # never serves on a schema it could not bring up to date


def test_container_files_follow_the_conventions() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "\nUSER hrbot\n" in dockerfile and "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile and 'ENTRYPOINT ["hrbot-entrypoint"]' in dockerfile
    compose = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    for service in ("db:", "migrate:", "bot1:", "bot2:"):
        assert f"\n  {service}\n" in compose
    assert "service_completed_successfully" in compose and "postgres:16" in compose
    unit = (DEPLOY / "hrbot.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/hrbot/deploy/entrypoint.sh" in unit and "User=hrbot" in unit
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK)
