"""Recall of no-show candidates: talent profiles, reason-aware drafts on a 30/90/180-day
cadence and in campaigns, sends a person confirms, and what came of them.

Modules: ``profiles`` / ``profile_cards`` (the talent profile), ``drafts`` (templates to
text), ``sending`` (preview buttons and outcomes), ``campaigns``, ``stats``, ``jobs`` (the
clock), ``rules`` (consent, opt-out, the minimum gap between messages).
"""

