"""Schools: main gate point, optional campus polygon, students and the four security-compliance items."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.crs import STORAGE_SRID
from geo_safety.layers.base import Base, exposed, flag, valid_geometry
from geo_safety.layers.spec import FileLayer
from geo_safety.rules import SchoolKind


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint("students >= 0", name="students_non_negative"),
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
        CheckConstraint(valid_geometry("campus"), name="campus_valid"),
    )
    #: the schools file (gates), and the campus outlines of schools already loaded
    __file_layers__: ClassVar[tuple[FileLayer, ...]] = (
        FileLayer("schools"),
        FileLayer("school_campuses", geometry_column="campus", only=("id",), update_only=True),
    )

    id: Mapped[str] = mapped_column(
        Text, primary_key=True, comment="school code", info=exposed(required=True, feature=True)
    )
    name: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(required=True, feature=True))
    kind: Mapped[str] = mapped_column(
        Text, nullable=False, info=exposed(required=True, choices=SchoolKind, feature=True)
    )
    students: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0", info=exposed(file=True, feature=True)
    )
    boarding: Mapped[bool] = flag()
    address: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    district_code: Mapped[str] = mapped_column(  # derived: see migration 0001
        Text, nullable=False, index=True, info=exposed(feature=True, district=True)
    )
    geom = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False),
        nullable=False,
        comment="main gate",
        info=exposed(file=True, feature=True),
    )
    campus = mapped_column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False))
    # the four security items (``rules.SECURITY_ITEMS``)
    full_time_guards: Mapped[bool] = flag()
    closed_campus: Mapped[bool] = flag()
    alarm_linked: Mapped[bool] = flag()
    video_linked: Mapped[bool] = flag()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), info=exposed(time=True)
    )
