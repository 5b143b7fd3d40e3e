"""What the recall capability gives the bot (listed in handlers.capabilities)."""

from bot.core.events import EventKind
from bot.core.registry import Capability, TypedInput
from handlers.recall import campaigns, contacts, profile_cards, sending, stats  # noqa: F401 (routes)
from handlers.recall.common import router
from handlers.recall.jobs import DUE_HANDLERS, find_recall_work

# Typed input some recall button asked for, by the pending action it stored.
_TYPED_INPUTS: dict[str, TypedInput] = {
    "recall.edit": sending.answer_edit,
    "recall.profile.input": profile_cards.answer_profile_input,
}

capability = Capability(
    name="recall",
    router=router,
    due_handlers={**DUE_HANDLERS, **contacts.DUE_HANDLERS},
    recurring=(contacts.check_contact_lookups, find_recall_work),
    kind_handlers={EventKind.CONTACT_ADDED: contacts.link_contact},
    typed_inputs=_TYPED_INPUTS,
)
