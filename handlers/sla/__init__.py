"""Deadlines that do not wait silently: the working calendar, SLA deadlines, reminders,
escalations, timeouts and the daily digest.

Modules: ``workcal`` (the Chinese working calendar, pure), ``quiet_hours``, ``calendar`` (the
calendar as the database and config make it), ``deadlines`` (due items of a stage),
``reminders`` (reminder ladder and digest), ``timeouts`` (what a timed-out stage does).
"""
