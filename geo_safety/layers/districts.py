"""District boundaries: the service area. Loaded from real, published boundaries."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base, valid_geometry


class District(Base):
    __tablename__ = "districts"
    __table_args__ = (CheckConstraint(valid_geometry("geom"), name="geom_valid"),)

    code: Mapped[str] = mapped_column(Text, primary_key=True, comment="administrative division code (adcode)")
    name: Mapped[str] = mapped_column(Text, nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False, server_default="district")
    parent_code: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
