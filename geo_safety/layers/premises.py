"""Business premises near campuses (internet cafés, entertainment, tobacco/alcohol/lottery sellers…), and their
status by date (migration 0008)."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Text, func, text
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
        CheckConstraint("closed_on IS NULL OR status = 'closed'", name="closed_on_closed"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    address: Mapped[str | None] = mapped_column(Text)
    license_no: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="open")  # now; by date: the history
    closed_on: Mapped[date | None] = mapped_column(Date, comment="the day the current closure began (registry)")
    district_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)  # derived: see migration 0001
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PremiseStatusHistory(Base):
    """The status a premise had from a day on, so a past day's due list ignores later visits and imports.

    Written by inspections (one row each) and by a trigger on ``premises`` for every other status write;
    ``valid_from`` NULL means since always (the status a premise was first loaded with).
    """

    __tablename__ = "premise_status_history"
    __table_args__ = (
        CheckConstraint(in_list("status", values(PremisesStatus)), name="status_known"),
        CheckConstraint(in_list("source", ("import", "inspection")), name="source_known"),
        Index(
            "ix_premise_status_history_premise",
            "premise_id",
            text("valid_from DESC NULLS LAST"),
            text("observed_at DESC"),
            text("id DESC"),
            postgresql_include=["status"],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    premise_id: Mapped[str] = mapped_column(ForeignKey("premises.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    valid_from: Mapped[date | None] = mapped_column(Date, comment="first day the status holds; NULL: since always")
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    source: Mapped[str] = mapped_column(Text, nullable=False)
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
