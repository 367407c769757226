"""Answers cached until the data changes: served again while nothing is written, computed afresh after a write.

What counts as a write is a layer's (``data_versions``, see tests/test_cache_versions.py): the audit log is not.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from geo_safety.services import cache


def test_cached_until_a_write_commits(engine: Engine) -> None:
    cache.clear()
    calls = []

    def make() -> int:
        calls.append(1)
        return len(calls)

    assert cache.cached(engine, "k", make) == 1
    assert cache.cached(engine, "k", make) == 1  # nothing written: the same answer, not computed again
    assert cache.cached(engine, "other", make) == 2  # another key is another answer
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, action) VALUES ('test', 'touch')"))
    assert cache.cached(engine, "k", make) == 1  # the audit log is no data an answer reads
    with engine.begin() as conn:
        conn.execute(text("UPDATE schools SET name = name"))
    assert cache.cached(engine, "k", make) == 3  # a committed write to a layer: computed afresh
    with engine.connect() as conn:  # a transaction that only reads changes nothing
        conn.execute(text("SELECT count(*) FROM premises")).scalar_one()
    assert cache.cached(engine, "k", make) == 3


def test_a_write_in_progress_does_not_let_stale_answers_through(engine: Engine) -> None:
    """An answer computed while a writer is still open is not served after that writer commits."""
    cache.clear()
    calls = []
    with engine.connect() as writer:
        writer.execute(text("UPDATE schools SET name = name"))  # raises the version, not yet committed
        assert cache.cached(engine, "k", lambda: calls.append(1) or len(calls)) == 1
        writer.commit()
    assert cache.cached(engine, "k", lambda: calls.append(1) or len(calls)) == 2
