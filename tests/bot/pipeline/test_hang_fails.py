"""A test that hangs fails (pytest-timeout, ``timeout`` in pyproject) instead of stalling."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests._support.paths import ROOT


def test_the_suite_has_a_per_test_timeout() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    timeout = options["tool"]["pytest"]["ini_options"]["timeout"]
    assert 0 < timeout <= 900


def test_a_hanging_async_test_fails(tmp_path: Path) -> None:
    hang = tmp_path / "test_hang.py"
    hang.write_text(
        "import asyncio\n\n\nasync def test_never_ends() -> None:\n"
        "    await asyncio.Event().wait()  # like a drain waiting for a row never marked sent\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c",
         str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-o", "timeout=2", str(hang)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert run.returncode == 1, run.stdout[-2000:]
    assert "Timeout" in run.stdout and "1 failed" in run.stdout
