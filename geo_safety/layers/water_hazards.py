"""Water hazard zones (drowning risks) with their guard measures, patrols and responsible unit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, Numeric, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base, in_list, valid_geometry
from geo_safety.rules import HazardKind, values


class WaterHazard(Base):
    __tablename__ = "water_hazards"
    __table_args__ = (
        CheckConstraint(in_list("kind", values(HazardKind)), name="kind_known"),
        CheckConstraint("depth_m IS NULL OR depth_m >= 0", name="depth_non_negative"),
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=text("'WH-' || nextval('water_hazard_seq')"))
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    depth_m: Mapped[float | None] = mapped_column(Numeric(6, 2))
    owner: Mapped[str | None] = mapped_column(Text)
    responsible_unit: Mapped[str | None] = mapped_column(Text)
    responsible_person: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    warning_sign: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    lifebuoy: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    rescue_rope: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    rescue_pole: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    fence: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    patrols: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    note: Mapped[str | None] = mapped_column(Text, comment="e.g. 'approximate location' for placed focus areas")
    district_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)  # derived: see migration 0001
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
