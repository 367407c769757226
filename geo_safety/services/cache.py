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
_lock = threading.Lock()


def data_token(engine: Engine) -> str:
    """Changes whenever a transaction that writes starts or ends (conservative: any write, any table)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_current_snapshot()::text")).scalar_one()


def cached(engine: Engine, key: Hashable, make: Callable[[], T]) -> T:
    """``make()``, or its earlier result for ``key`` if nothing was written since."""
    full = (id(engine), data_token(engine), key)
    with _lock:
        if full in _entries:
            _entries.move_to_end(full)
            return _entries[full]  # type: ignore[return-value]
    value = make()
    with _lock:
        _entries[full] = value
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
