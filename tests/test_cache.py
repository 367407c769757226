"""Answers cached until the data changes: served again while nothing is written, computed afresh after a write."""

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
    assert cache.cached(engine, "k", make) == 3  # a committed write: computed afresh
    with engine.connect() as conn:  # a transaction that only reads changes nothing
        conn.execute(text("SELECT count(*) FROM premises")).scalar_one()
    assert cache.cached(engine, "k", make) == 3


def test_a_write_in_progress_does_not_let_stale_answers_through(engine: Engine) -> None:
    """An answer computed while a writer is still open is not served after that writer commits."""
    cache.clear()
    calls = []
    with engine.connect() as writer:
        writer.execute(text("INSERT INTO audit_log (actor, action) VALUES ('test', 'open')"))  # xid assigned
        assert cache.cached(engine, "k", lambda: calls.append(1) or len(calls)) == 1
        writer.commit()
    assert cache.cached(engine, "k", lambda: calls.append(1) or len(calls)) == 2
