"""Row filters as plain predicates over :class:`Process`.

Each builder returns a function ``Process -> bool``; :func:`combine` ANDs them.
The GUI's proxy model and the headless commands use the same functions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from procscope.model.records import Process

__all__ = ["Predicate", "by_pattern", "by_uid", "combine", "kthreads", "mine"]

Predicate = Callable[[Process], bool]


def by_uid(uid: int) -> Predicate:
    """Processes owned by ``uid``."""
    return lambda p: p.uid == uid


def mine() -> Predicate:
    """Processes owned by the user running Procscope."""
    return by_uid(os.getuid())


def kthreads(show: bool) -> Predicate | None:
    """``None`` (no filtering) when kernel threads are shown, else a predicate hiding them."""
    if show:
        return None
    return lambda p: not p.kthread


def by_pattern(pattern: str, regex: bool = False) -> Predicate | None:
    """Match a name or PID.

    A plain pattern is a case-insensitive substring of the command, or a PID that
    starts with it. A regex is searched, case-insensitively, in the command and in
    the PID's decimal text. An empty pattern matches everything (``None``).
    A bad regex raises ``ValueError`` naming the problem.
    """
    if not pattern:
        return None
    if regex:
        try:
            rx = re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
        return lambda p: rx.search(p.comm) is not None or rx.search(str(p.pid)) is not None
    needle = pattern.casefold()
    digits = pattern.isdigit()
    return lambda p: needle in p.comm.casefold() or (digits and str(p.pid).startswith(pattern))


def combine(*predicates: Predicate | None) -> Predicate | None:
    """AND of the given predicates, skipping ``None``; ``None`` when nothing filters."""
    preds = tuple(p for p in predicates if p is not None)
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]
    return lambda proc: all(pred(proc) for pred in preds)
