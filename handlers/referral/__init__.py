"""Referral: the form (``推荐``), the qualification check, HR review / leader approval /
feedback tasks, progress, attachments, help, and the answer to anything not understood.

Modules: ``form`` (parsing), ``qualification`` (requirements), ``submit`` (new referrals and
drafts), ``workflow`` (states and transitions), ``tasks`` (task cards and typed answers),
``progress``, ``attachments``, ``info`` (help, positions, fallback), ``views`` and
``announce`` (what cards show and who is told), ``permissions`` (the role matrix).
"""
