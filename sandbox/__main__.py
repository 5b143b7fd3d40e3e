"""``python -m sandbox``: run the sandbox alone, for manual poking (Ctrl-C stops it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from sandbox.app import start_sandbox
from sandbox.settings import DEFAULT_PEOPLE_CSV, SandboxSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--people", type=Path, default=DEFAULT_PEOPLE_CSV,
                        help="directory CSV (columns of bot/cli/demo/people.csv)")
    parser.add_argument("--wecom-callback-url", default=None,
                        help="the bot's WeCom callback URL, e.g. http://127.0.0.1:8080/wecom/callback")
    parser.add_argument("--public-url", default=None,
                        help="base URL the bot reaches the sandbox at (default: where it listens)")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    settings = SandboxSettings(people_csv=args.people, wecom_callback_url=args.wecom_callback_url,
                               public_url=args.public_url)
    runner, url = await start_sandbox(settings, args.host, args.port)
    print(f"sandbox running at {url}/sandbox/  (fake DingTalk and WeCom APIs at {url})",
          flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
