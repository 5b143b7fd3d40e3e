"""What the transfer capability gives the bot (listed in handlers.capabilities).

Everything generic (approval buttons, reasons, reminders, escalation, leavers) is built by
the workflow engine from the definition; only the form and the term's end are its own.
"""

from bot.core.registry import Capability
from bot.core.routing import Router
from handlers.transfer import commands
from handlers.transfer.definition import TRANSFER
from handlers.transfer.jobs import DUE_HANDLERS
from handlers.workflow.routes import (
    cancel_for_leavers,
    due_handlers,
    typed_inputs,
    workflow_router,
)

capability = Capability(
    name="transfer",
    router=Router("transfer.all").include(commands.router, workflow_router(TRANSFER)),
    due_handlers={**due_handlers(TRANSFER), **DUE_HANDLERS},
    recurring=(cancel_for_leavers(TRANSFER, "cancel"),),
    typed_inputs={**typed_inputs(TRANSFER), "transfer.extend_date": commands.answer_extend_date},
)
