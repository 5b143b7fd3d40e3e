"""Approvers away: delegation, leave (typed and synced from DingTalk), reassignment,
加签 and 征询 from the task card.

Modules: ``commands`` (委托 / 休假 / 取消委托), ``reassign`` (转交 / 加签 / 征询), ``rules`` (who
acts for whom), ``moves`` (moving a task and its deadlines), ``dates``, ``leave_sync``.
"""
