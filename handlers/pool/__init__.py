"""Talent pool: derived and manual tags, and matching pool members to new positions."""
