"""`hrbot serve` as a real process: a platform callback in, a referral stored, SIGTERM out
with exit code 0. API bases point at a closed local port, so sends fail and wait in the
outbox; nothing leaves the machine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from bot.adapters.dingtalk.http_mode import robot_sign
from bot.cli.demo import seed_demo
from storage.db import SessionFactory, make_engine, make_session_factory
from storage.migrate import upgrade_database
from tests._support import db
from tests._support.paths import ROOT as _ROOT
from tests.bot.adapters.test_wecom_callback import CORP, KEY, TOKEN, encrypt, text_xml

ROOT = _ROOT
SECRET = "test-app-secret"
REFER = "推荐 店长 张三 13800138000 曾将社区商场月客流提升30%"
CLOSED = "http://127.0.0.1:9"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(
    tmp_path: Path, platform_toml: str
) -> AsyncIterator[tuple[httpx.AsyncClient, SessionFactory, asyncio.subprocess.Process]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    await upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    await seed_demo(factory)
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[server]\nport = {port}\n[scheduler]\nsweep_seconds = 1\n'
        + platform_toml,
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HRBOT_CONFIG": str(config)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.commands", "serve", cwd=tmp_path, env=env,
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
                assert time.monotonic() < deadline, "hrbot serve did not start listening"
                await asyncio.sleep(0.1)
            yield client, factory, process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await engine.dispose()


async def wait_for_referral(factory: SessionFactory) -> None:
    deadline = time.monotonic() + 20
    while (await db.counts(factory))["referrals"] == 0:
        assert time.monotonic() < deadline, "the callback was never handled"
        await asyncio.sleep(0.2)


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=20) == 0


async def test_dingtalk_http_callback_then_clean_sigterm(tmp_path: Path) -> None:
    platform = (
        f'[dingtalk]\napp_key = "k"\napp_secret = "{SECRET}"\nrobot_code = "r"\n'
        f'card_template_id = "t.schema"\nmode = "http"\napi_base = "{CLOSED}"\n'
        f'oapi_base = "{CLOSED}"\npublic_url = "https://hr.example.com"\n'
    )
    # The card callback registration keeps failing (closed port) in the background: the
    # callbacks are served meanwhile and SIGTERM still ends the process cleanly.
    async with served(tmp_path, platform) as (client, factory, process):
        timestamp = str(int(time.time() * 1000))
        body = {
            "msgId": "serve-msg-1", "conversationId": "cid-1", "conversationType": "1",
            "senderStaffId": "dt_zhang", "senderNick": "张经理", "msgtype": "text",
            "robotCode": "r", "createAt": int(timestamp), "text": {"content": REFER},
        }
        headers = {"timestamp": timestamp, "sign": robot_sign(timestamp, SECRET),
                   "content-type": "application/json"}
        for _ in range(2):  # DingTalk retries; the referral is made once
            answer = await client.post("/dingtalk/callback", content=json.dumps(body),
                                       headers=headers)
            assert answer.status_code == 200
        await wait_for_referral(factory)
        await stop(process)
        counts = await db.counts(factory)
        assert counts["referrals"] == 1 and counts["candidates"] == 1


async def test_wecom_encrypted_callback_then_clean_sigterm(tmp_path: Path) -> None:
    platform = (
        f'[wecom]\ncorp_id = "{CORP}"\nagent_id = 1000002\nsecret = "s"\ntoken = "{TOKEN}"\n'
        f'encoding_aes_key = "{KEY}"\napi_base = "{CLOSED}"\n'
    )
    async with served(tmp_path, platform) as (client, factory, process):
        signed = encrypt(text_xml("zhangjl", REFER, "7001"), ts=int(time.time()))
        for _ in range(2):  # WeCom retries when it thinks we were slow
            answer = await client.post(f"/wecom/callback?{signed.query}", content=signed.body)
            assert answer.status_code == 200 and answer.content == b""
        forged = await client.post(f"/wecom/callback?{signed.query}0", content=signed.body)
        assert forged.status_code in (401, 403)
        # The WeCom route keeps its own 64 KiB cap under [server] max_body_bytes (1 MiB).
        big = await client.post(f"/wecom/callback?{signed.query}", content=b"<" * 65537)
        assert big.status_code == 413
        await wait_for_referral(factory)
        await stop(process)
        assert (await db.counts(factory))["referrals"] == 1
