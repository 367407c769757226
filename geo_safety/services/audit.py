"""The audit trail: every write records who, when, what and from where, in the write's own transaction."""

from __future__ import annotations

import getpass
import json
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from geo_safety.sql import accounts as sql_accounts


@dataclass(frozen=True)
class Actor:
    """Who is writing, and from where (client address, or the machine for the command line)."""

    name: str
    client: str | None = None

    @classmethod
    def command_line(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(f"cli:{user}", f"cli@{socket.gethostname()}")


def set_actor(conn: Connection, actor: Actor) -> None:
    """Tell database triggers (the hazard history) who writes in this transaction."""
    conn.execute(sql_accounts.SET_ACTOR, {"a": actor.name, "c": actor.client or ""})


def record(
    conn: Connection,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    set_actor(conn, actor)
    conn.execute(
        sql_accounts.INSERT_AUDIT,
        {
            "actor": actor.name,
            "action": action,
            "tt": target_type,
            "tid": target_id,
            "details": json.dumps(details or {}, ensure_ascii=False, default=str),
            "client": actor.client,
        },
    )


def entries_since(engine: Engine, since: datetime, limit: int = 1000) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sql_accounts.AUDIT_SINCE, {"since": since, "limit": limit}).mappings()
        return [dict(r) for r in rows]
