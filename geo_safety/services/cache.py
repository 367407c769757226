"""Answers that depend only on committed data and their arguments, kept until anything is written.

The key of every entry includes the database's current snapshot (``pg_current_snapshot()``). It stays
the same exactly as long as no writing transaction has started or ended anywhere in the cluster, so
an entry is served only while the data it was computed from is unchanged; the first request after
any write computes afresh. Fifty inspectors asking for the same district's plan and map cost one
computation instead of fifty. The cache is per process and small (least recently used out first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import Engine, text

T = TypeVar("T")
MAX_ENTRIES = 64

_entries: OrderedDict[Hashable, object] = OrderedDict()
_computing: dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()


def data_token(engine: Engine) -> str:
    """Changes whenever a transaction that writes starts or ends (conservative: any write, any table)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()


def cached(engine: Engine, key: Hashable, make: Callable[[], T]) -> T:
    """``make()``, or its earlier result for ``key`` if nothing was written since.

    Concurrent requests for the same missing answer wait for the one computing it (single flight):
    fifty inspectors opening the same district at once cost one computation, not fifty at once.
    """
    full = (id(engine), data_token(engine), key)
    with _lock:
        if full in _entries:
            _entries.move_to_end(full)
            return _entries[full]  # type: ignore[return-value]
        gate = _computing.setdefault(full, threading.Lock())
    with gate:
        with _lock:
            if full in _entries:
                return _entries[full]  # type: ignore[return-value]
        try:
            value = make()
            with _lock:
                _entries[full] = value
                while len(_entries) > MAX_ENTRIES:
                    _entries.popitem(last=False)
        finally:
            with _lock:
                _computing.pop(full, None)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
