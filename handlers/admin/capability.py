"""What the admin capability gives the bot (listed in handlers.capabilities): the nightly
directory sync, which does nothing until the serve assembly gives it its platforms."""

from bot.core.registry import Capability
from handlers.admin.directory_sync import NIGHTLY

capability = Capability(name="admin", recurring=(NIGHTLY,))
