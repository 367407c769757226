"""Heavy requests are bounded per process and per user, so one user cannot take the service from others.

"Heavy" is work no link table or cache makes cheap: hotspots with a radius beyond the zone links' reach
(``proximity.HAZARD_REACH_M``), whole-city due lists, the OGC query collections, programme reports. At most
``heavy_per_process`` of them run at once in a process and ``heavy_per_user`` per user; the excess gets 429
at once, with ``Retry-After`` and the reason (nothing queues: a queue would hold the worker threads the
inspectors' cheap requests need). Light requests never touch the limiter.

Use as a FastAPI dependency: ``dependencies=[HEAVY]`` on an always-heavy route, or ``HEAVY_IF_CITY`` /
``HEAVY_IF_WIDE_RADIUS`` / ``HEAVY_IF_QUERY_COLLECTION`` where it depends on the request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from fastapi import Depends, HTTPException, Request

from geo_safety.api.deps import PageUserDep, ScopeDep, UserDep
from geo_safety.proximity import HAZARD_REACH_M
from geo_safety.services.users import Principal

RETRY_AFTER_S = 5


class HeavyWork:
    """Counters of heavy requests running now: in the process, and per user (thread-safe, never blocking)."""

    def __init__(self, per_process: int, per_user: int) -> None:
        self.per_process, self.per_user = max(1, per_process), max(1, per_user)
        self._lock = threading.Lock()
        self._running = 0
        self._by_user: dict[str, int] = {}

    def enter(self, user: Principal, reason: str) -> None:
        """Take a slot for ``user``'s ``reason`` (e.g. "hotspots within 3000 m"), or raise 429."""
        with self._lock:
            mine = self._by_user.get(user.name, 0)
            if mine >= self.per_user:
                raise _too_many(
                    f"you already have {mine} heavy requests running ({reason} is one too); at most "
                    f"{self.per_user} at a time per user — wait for them, or narrow the request (district, radius)"
                )
            if self._running >= self.per_process:
                raise _too_many(
                    f"the service is busy with {self._running} heavy requests ({reason}); "
                    "try again shortly, or narrow the request (district, radius)"
                )
            self._running += 1
            self._by_user[user.name] = mine + 1

    def leave(self, user: Principal) -> None:
        with self._lock:
            self._running -= 1
            left = self._by_user.get(user.name, 1) - 1
            if left > 0:
                self._by_user[user.name] = left
            else:
                self._by_user.pop(user.name, None)

    def running(self) -> int:
        with self._lock:
            return self._running


def _too_many(detail: str) -> HTTPException:
    return HTTPException(status_code=429, detail=detail, headers={"Retry-After": str(RETRY_AFTER_S)})


_create_lock = threading.Lock()


def heavy_work(request: Request) -> HeavyWork:
    """The app's limiter (one per app, hence per worker process), built from its settings on first use."""
    state = request.app.state
    limiter = getattr(state, "heavy_work", None)
    if limiter is None:
        with _create_lock:
            limiter = getattr(state, "heavy_work", None)
            if limiter is None:
                settings = state.settings
                limiter = HeavyWork(settings.heavy_per_process, settings.heavy_per_user)
                state.heavy_work = limiter
    return limiter


def _hold(request: Request, user: Principal, reason: str) -> Iterator[None]:
    limiter = heavy_work(request)
    limiter.enter(user, reason)
    try:
        yield
    finally:
        limiter.leave(user)


def heavy(request: Request, user: UserDep) -> Iterator[None]:
    """Always heavy (reports, the OGC query collections)."""
    yield from _hold(request, user, f"{request.url.path}")


def heavy_if_city(request: Request, user: UserDep, scope: ScopeDep) -> Iterator[None]:
    """Heavy when it covers the whole city (no district scope): a district's list is cheap."""
    if scope is not None:
        yield
        return
    yield from _hold(request, user, f"the whole city's {request.url.path.rsplit('/', 1)[-1]}")


def _radius(request: Request) -> float | None:
    try:
        return float(request.query_params["radius_m"])
    except (KeyError, ValueError):
        return None  # absent (the default, within the links) or malformed (refused by the route itself)


def heavy_if_wide_radius(request: Request, user: UserDep) -> Iterator[None]:
    """Hotspots with a radius beyond the zone links' reach are measured live: heavy."""
    radius = _radius(request)
    if radius is None or not radius > HAZARD_REACH_M:
        yield
        return
    yield from _hold(request, user, f"hotspots within {radius:g} m")


def heavy_if_query_collection(request: Request, user: UserDep) -> Iterator[None]:
    """OGC items of the computed collections (due inspections, drowning hotspots) are heavy; layers are not."""
    from geo_safety.services.ogc import COLLECTIONS

    spec = COLLECTIONS.get(request.path_params.get("collection_id", ""))
    if spec is None or spec.table is not None:
        yield
        return
    yield from _hold(request, user, f"the {spec.id} collection")


def heavy_page(request: Request, user: PageUserDep) -> Iterator[None]:
    """``heavy`` for a browser page: an anonymous visitor is sent to /login rather than answered 401."""
    yield from heavy(request, user)


def heavy_page_if_wide_radius(request: Request, user: PageUserDep) -> Iterator[None]:
    """``heavy_if_wide_radius`` for a browser page (anonymous: to /login)."""
    yield from heavy_if_wide_radius(request, user)


# scope="function": the slot is given back as soon as the route function returns, before the response is sent
HEAVY = Depends(heavy, scope="function")
HEAVY_IF_CITY = Depends(heavy_if_city, scope="function")
HEAVY_IF_WIDE_RADIUS = Depends(heavy_if_wide_radius, scope="function")
HEAVY_IF_QUERY_COLLECTION = Depends(heavy_if_query_collection, scope="function")
HEAVY_PAGE = Depends(heavy_page, scope="function")
HEAVY_PAGE_IF_WIDE_RADIUS = Depends(heavy_page_if_wide_radius, scope="function")
