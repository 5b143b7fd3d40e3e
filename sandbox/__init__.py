"""Fake DingTalk and WeCom servers plus a web chat emulator; talks to the bot only over the wire.

Nothing here imports the bot (``bot``, ``handlers``, ``cards``, ``storage``).
"""

from sandbox.app import build_sandbox_app, set_clock_hook, start_sandbox, world_of
from sandbox.org import Group, Person
from sandbox.settings import SandboxSettings

__all__ = ["Group", "Person", "SandboxSettings", "build_sandbox_app", "set_clock_hook",
           "start_sandbox", "world_of"]
