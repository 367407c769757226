"""Water hazard zones (drowning risks) with their guard measures, patrols and responsible unit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, Integer, Numeric, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.crs import STORAGE_SRID
from geo_safety.layers.base import Base, exposed, flag, valid_geometry
from geo_safety.rules import HazardKind


class WaterHazard(Base):
    __tablename__ = "water_hazards"
    __table_args__ = (
        CheckConstraint("depth_m IS NULL OR depth_m >= 0", name="depth_non_negative"),
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
    )

    id: Mapped[str] = mapped_column(
        Text,
        primary_key=True,
        server_default=text("'WH-' || nextval('water_hazard_seq')"),
        info=exposed(required=True, feature=True),
    )
    name: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(required=True, feature=True))
    kind: Mapped[str] = mapped_column(
        Text, nullable=False, info=exposed(required=True, choices=HazardKind, feature=True)
    )
    depth_m: Mapped[float | None] = mapped_column(Numeric(6, 2), info=exposed(file=True, feature=True))
    owner: Mapped[str | None] = mapped_column(Text, info=exposed(file=True))
    responsible_unit: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    responsible_person: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    phone: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    # the guard measures (``rules.GUARD_MEASURES``)
    warning_sign: Mapped[bool] = flag()
    lifebuoy: Mapped[bool] = flag()
    rescue_rope: Mapped[bool] = flag()
    rescue_pole: Mapped[bool] = flag()
    fence: Mapped[bool] = flag()
    patrols: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default="[]", info=exposed(file=True)
    )
    note: Mapped[str | None] = mapped_column(
        Text, comment="e.g. 'approximate location' for placed focus areas", info=exposed(file=True)
    )
    district_code: Mapped[str] = mapped_column(  # derived: see migration 0001
        Text, nullable=False, index=True, info=exposed(feature=True, district=True)
    )
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False),
        nullable=False,
        info=exposed(file=True, feature=True),
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1", info=exposed(feature=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), info=exposed(retired=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), info=exposed(time=True)
    )
