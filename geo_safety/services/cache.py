"""Answers that depend only on committed data and their arguments, kept until what they read changes.

Every entry is stored with the data versions it was computed from: the ``data_versions`` rows (migration
0009) of the districts and layers the answer reads, plus the whole-area row ``'*'``. Triggers raise a row
in the writing transaction itself, so a reader sees a new version exactly when it sees the new data: an
entry is served only while what it read is unchanged. A visit in one district recomputes that district's
due list and maps, not the others'; logins, sessions and the audit log raise no version at all (the
first key, the cluster's ``pg_current_snapshot()``, changed with every write anywhere and rarely hit under
a day's load, issue 17). Fifty inspectors asking for the same district's due list cost one computation.

The cache is per process and small: one entry per key (a newer version replaces the older one), least
recently used out first. ``stats()`` counts hits and computations per kind of answer; with
``GEO_SAFETY_CACHE_STATS`` naming a folder each process also writes them there (for the benchmark).
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Engine

from geo_safety.sql import maintenance as sql_maintenance

T = TypeVar("T")
#: entries kept per process: the maps are per inspector (50 inspectors + 20 districts' due lists fit)
MAX_ENTRIES = 128
#: every layer a cached answer may read, as ``data_versions.layer`` names them
ALL_LAYERS = ("districts", "schools", "premises", "water_hazards", "inspections", "day_plans")
#: what a due list reads (not the inspectors' stored plans)
DUE_LAYERS = ("districts", "schools", "premises", "water_hazards", "inspections")
WHOLE_AREA = "*"
STATS_ENV = "GEO_SAFETY_CACHE_STATS"
#: ``snapshot``: key by the cluster's snapshot, as before issue 17 (the benchmark's baseline, not for production)
KEYS_ENV = "GEO_SAFETY_CACHE_KEYS"

Token = tuple[tuple[str, str, int], ...]

_entries: OrderedDict[Hashable, tuple[Token, object]] = OrderedDict()
_computing: dict[Hashable, threading.Lock] = {}
_lock = threading.Lock()
_stats: Counter[tuple[str, str]] = Counter()


def versions(engine: Engine, districts: Iterable[str] | None = None, layers: Iterable[str] = ALL_LAYERS) -> Token:
    """The versions of ``layers`` in ``districts`` (None: every district) and of the whole area."""
    codes = None if districts is None else sorted({*districts, WHOLE_AREA})
    with engine.connect() as conn:
        if os.environ.get(KEYS_ENV) == "snapshot":
            return ((conn.execute(sql_maintenance.CURRENT_SNAPSHOT).scalar_one(), "", 0),)
        rows = conn.execute(sql_maintenance.DATA_VERSIONS, {"layers": list(layers), "codes": codes}).all()
    return tuple((r.district_code, r.layer, r.version) for r in rows)


def data_token(engine: Engine) -> str:
    """Changes whenever any layer an answer may read is written, in any district (not with logins or audit)."""
    return repr(versions(engine))


def _kind(key: Hashable) -> str:
    return key[0] if isinstance(key, tuple) and key and isinstance(key[0], str) else "other"


def _count(kind: str, event: str) -> None:
    """Count under ``_lock``; the file for the benchmark is written outside it."""
    _stats[(kind, event)] += 1


def _write_stats() -> None:
    folder = os.environ.get(STATS_ENV)
    if not folder:
        return
    with _lock:
        counts = {f"{kind}:{event}": n for (kind, event), n in sorted(_stats.items())}
    path = Path(folder) / f"{os.getpid()}.json"
    partial = path.with_suffix(f".{threading.get_ident()}.tmp")
    partial.write_text(json.dumps(counts))
    partial.replace(path)


def cached(
    engine: Engine,
    key: Hashable,
    make: Callable[[], T],
    *,
    districts: Iterable[str] | None = None,
    layers: Iterable[str] = ALL_LAYERS,
) -> T:
    """``make()``, or its earlier result for ``key`` if nothing it reads was written since.

    ``districts`` and ``layers`` say what ``make`` reads (None: every district); the answer is computed
    afresh once any of their versions, or a whole-area version of those layers, has changed. Concurrent
    requests for the same missing answer wait for the one computing it (single flight): fifty inspectors
    opening the same district at once cost one computation, not fifty at once.
    """
    token = versions(engine, districts, layers)
    slot = (id(engine), key)
    kind = _kind(key)
    # The store holds the answers of every key, so its values are ``object``; an entry under ``key`` is what
    # ``make`` for that key returned (callers give each kind of answer its own key), hence the casts to T.
    with _lock:
        hit = _entries.get(slot)
        if hit is not None and hit[0] == token:
            _entries.move_to_end(slot)
            _count(kind, "hit")
        else:
            hit = None
            gate = _computing.setdefault((slot, token), threading.Lock())
    if hit is not None:
        _write_stats()
        return cast(T, hit[1])
    value: T
    with gate:
        with _lock:
            found = _entries.get(slot)
            if found is not None and found[0] == token:  # computed by the request we waited for
                _count(kind, "shared")
                value = cast(T, found[1])
                computed = False
            else:
                computed = True
        if computed:
            try:
                value = make()
                with _lock:
                    _count(kind, "miss")
                    _entries[slot] = (token, value)
                    _entries.move_to_end(slot)
                    while len(_entries) > MAX_ENTRIES:
                        _entries.popitem(last=False)
            finally:
                with _lock:
                    _computing.pop((slot, token), None)
    _write_stats()
    return value


def stats() -> dict[str, int]:
    """Hits, computations (``miss``) and answers shared with a concurrent computation, per kind of answer."""
    with _lock:
        return {f"{kind}:{event}": n for (kind, event), n in sorted(_stats.items())}


def clear() -> None:
    with _lock:
        _entries.clear()
        _stats.clear()
