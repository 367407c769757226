"""Request types with the service's shared bounds (``geo_safety.bounds``): dates, offsets.

``Day`` is the ``?date=`` of every API route and map page; ``SaneDate``/``SaneDateTime`` are body fields.
Outside ``2000-01-01..2100-12-31`` they get 422 with the range as the reason.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from geo_safety.bounds import (  # the bounds are re-exported for routers: listed in __all__
    MAX_OFFSET,
    MAX_ZONE_VERTICES,
    RANGE_TEXT,
    check_zone_vertices,
    day_in_range,
)

__all__ = [
    "MAX_OFFSET",
    "MAX_ZONE_VERTICES",
    "RANGE_TEXT",
    "Day",
    "Offset",
    "SaneDate",
    "SaneDateTime",
    "check_zone_vertices",
    "day_in_range",
]


def _in_range(value: date) -> date:
    if not day_in_range(value):  # a ValueError becomes a 422 naming the field and this reason
        raise ValueError(f"must lie in {RANGE_TEXT}")
    return value


SaneDate = Annotated[date, AfterValidator(_in_range)]
SaneDateTime = Annotated[datetime, AfterValidator(_in_range)]
#: ``?date=``; default (None): today in Asia/Shanghai.
Day = Annotated[
    SaneDate | None, Query(alias="date", description=f"YYYY-MM-DD in {RANGE_TEXT}; default: today in Asia/Shanghai")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="rows to skip")]
