"""What the fault and fuzz suites tried, printed at the end of the run (faults injected,
inputs fuzzed, invariants checked, and what was lost, which must stay 0)."""

from __future__ import annotations

from collections import Counter

TALLY: Counter[str] = Counter()


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to the line ``name`` of the end-of-run summary."""
    TALLY[name] += n


def lines() -> list[str]:
    """The summary, one "name: count" per line, in a stable order."""
    return [f"{name}: {TALLY[name]}" for name in sorted(TALLY)]
