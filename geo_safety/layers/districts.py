"""District boundaries: the service area. Loaded from real, published boundaries."""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.crs import STORAGE_SRID
from geo_safety.layers.base import Base, exposed, valid_geometry


class District(Base):
    __tablename__ = "districts"
    __table_args__ = (CheckConstraint(valid_geometry("geom"), name="geom_valid"),)

    code: Mapped[str] = mapped_column(
        Text,
        primary_key=True,
        comment="administrative division code (adcode)",
        info=exposed(required=True, feature=True, district=True),
    )
    name: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(required=True, feature=True))
    level: Mapped[str] = mapped_column(
        Text, nullable=False, server_default="district", info=exposed(file=True, feature=True)
    )
    parent_code: Mapped[str | None] = mapped_column(Text, info=exposed(file=True))
    geom = mapped_column(
        Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False),
        nullable=False,
        info=exposed(file=True, feature=True),
    )
