"""How a long-running process of the service sets up Python's garbage collector.

A serving process keeps large caches (each district's shared due list, map layers, plans): with CPython's default
thresholds a full (generation 2) collection walks all of them every few thousand allocations, and a request that
triggers one waits 50–100 ms more (measured on the province world: the one-district due list's slow samples
were those with a generation-2 collection). Freezing what was allocated at start-up (modules, rules, the app)
and collecting the young generation less often removes most of those pauses; cycles are still collected.
"""

from __future__ import annotations

import gc

#: (generation 0, 1, 2) thresholds: the young generation collected every 50,000 net allocations, not 700
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move everything alive now out of the collector's reach and collect less often (call once, after start-up)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
