"""Inspection records of premises and water hazard zones, and the log of file imports."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base, in_list, valid_geometry
from geo_safety.rules import InspectionResult, values


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint("num_nonnulls(premise_id, hazard_id) = 1", name="one_target"),
        CheckConstraint(in_list("result", values(InspectionResult)), name="result_known"),
        CheckConstraint(valid_geometry("position"), name="position_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    premise_id: Mapped[str | None] = mapped_column(ForeignKey("premises.id"))
    hazard_id: Mapped[str | None] = mapped_column(ForeignKey("water_hazards.id"))
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    inspector: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text, nullable=False)
    findings: Mapped[str | None] = mapped_column(Text)
    follow_up_due: Mapped[date | None] = mapped_column(Date)
    position = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), comment="reported, in WGS84")
    position_datum: Mapped[str | None] = mapped_column(Text, comment="datum the position arrived in")
    off_site: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ImportRun(Base):
    """One accepted file import: what, from where, in which datum, and what it changed."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    file_name: Mapped[str] = mapped_column(Text, nullable=False)
    datum: Mapped[str] = mapped_column(Text, nullable=False)
    mode: Mapped[str] = mapped_column(Text, nullable=False)
    rows_read: Mapped[int] = mapped_column(Integer, nullable=False)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False)
    updated: Mapped[int] = mapped_column(Integer, nullable=False)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False)
    repaired: Mapped[int] = mapped_column(Integer, nullable=False)
    imported_by: Mapped[str | None] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
