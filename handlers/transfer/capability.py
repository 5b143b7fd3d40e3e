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
    due_handlers,
    find_leavers,
    leaver_handler,
    typed_inputs,
    workflow_router,
)

capability = Capability(
    name="transfer",
    router=Router("transfer.all").include(commands.router, workflow_router(TRANSFER)),
    due_handlers={**due_handlers(TRANSFER), **leaver_handler(TRANSFER, "cancel"), **DUE_HANDLERS},
    recurring=(find_leavers(TRANSFER),),
    typed_inputs={**typed_inputs(TRANSFER), "transfer.extend_date": commands.answer_extend_date},
)
