"""A short visiting order for the day's stops: nearest neighbour, then 2-opt. Pure, geodesic metres."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from geo_safety.crs import geodesic_distance_m


def distance_matrix(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    n = len(lon)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return geodesic_distance_m(lon[i], lat[i], lon[j], lat[j]).reshape(n, n)


def plan_route(lon: NDArray[np.float64], lat: NDArray[np.float64], start: tuple[float, float] | None) -> list[int]:
    """Visiting order of the points (indexes), an open path from ``start`` (or from the first point).

    >>> plan_route(np.array([109.0, 109.2, 109.1]), np.array([21.5, 21.5, 21.5]), (108.95, 21.5))
    [0, 2, 1]
    """
    n = len(lon)
    if n == 0:
        return []
    if start is not None:
        lon = np.concatenate([[start[0]], lon])
        lat = np.concatenate([[start[1]], lat])
    dist = distance_matrix(np.asarray(lon, float), np.asarray(lat, float))
    order = [0]
    left = set(range(1, len(lon)))
    while left:
        here = order[-1]
        nearest = min(left, key=lambda k: (dist[here, k], k))
        order.append(nearest)
        left.remove(nearest)
    improved = True
    while improved:  # 2-opt on the open path; the first stop (the start) stays first
        improved = False
        for a in range(1, len(order) - 1):
            for b in range(a + 1, len(order)):
                before = dist[order[a - 1], order[a]]
                after = dist[order[a - 1], order[b]]
                if b + 1 < len(order):
                    before += dist[order[b], order[b + 1]]
                    after += dist[order[a], order[b + 1]]
                if after < before - 1e-6:
                    order[a : b + 1] = order[a : b + 1][::-1]
                    improved = True
    if start is not None:
        return [k - 1 for k in order[1:]]
    return order
