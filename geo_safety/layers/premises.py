"""Business premises near campuses (internet cafés, entertainment, tobacco/alcohol/lottery sellers…)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base, in_list, valid_geometry
from geo_safety.rules import PremisesCategory, PremisesStatus, values


class Premise(Base):
    __tablename__ = "premises"
    __table_args__ = (
        CheckConstraint(in_list("category", values(PremisesCategory)), name="category_known"),
        CheckConstraint(in_list("status", values(PremisesStatus)), name="status_known"),
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    license_no: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")
    district_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)  # derived: see migration 0001
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
