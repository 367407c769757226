"""Schools: main gate point, optional campus polygon, students and the four security-compliance items."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base, in_list, valid_geometry
from geo_safety.rules import SchoolKind, values


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint(in_list("kind", values(SchoolKind)), name="kind_known"),
        CheckConstraint("students >= 0", name="students_non_negative"),
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
        CheckConstraint(valid_geometry("campus"), name="campus_valid"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, comment="school code")
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    students: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    boarding: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    address: Mapped[str | None] = mapped_column(Text)
    district_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)  # derived: see migration 0001
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False, comment="main gate")
    campus = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))
    full_time_guards: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    closed_campus: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    alarm_linked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    video_linked: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
