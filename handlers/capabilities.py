"""Every capability of the bot, listed once; the assembly hands ``REGISTRY`` to the core."""

from bot.core.registry import include_capabilities
from handlers.admin.capability import capability as admin
from handlers.delegation.capability import capability as delegation
from handlers.insight.capability import capability as insight
from handlers.ops.capability import capability as ops
from handlers.pool.capability import capability as pool
from handlers.privacy.capability import capability as privacy
from handlers.recall.capability import capability as recall
from handlers.referral.capability import capability as referral
from handlers.sla.capability import capability as sla
from handlers.transfer.capability import capability as transfer

# Order is the order of each clock beat's recurring checks (insight's sync before the pool
# watch, so both see current facts); commands and actions cannot clash whatever the order.
CAPABILITIES = (
    referral, sla, ops, insight, pool, recall, delegation, privacy, transfer, admin
)
REGISTRY = include_capabilities(CAPABILITIES)

__all__ = ["CAPABILITIES", "REGISTRY"]
