"""Business premises near campuses (internet cafés, entertainment, tobacco/alcohol/lottery sellers…), and their
status by date (migration 0008)."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Identity, Index, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.crs import STORAGE_SRID
from geo_safety.layers.base import Base, exposed, valid_geometry
from geo_safety.rules import PremisesCategory, PremisesStatus


class Premise(Base):
    __tablename__ = "premises"
    __table_args__ = (
        CheckConstraint(valid_geometry("geom"), name="geom_valid"),
        CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_adcode"),
        CheckConstraint("closed_on IS NULL OR status = 'closed'", name="closed_on_closed"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, info=exposed(required=True, feature=True))
    name: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(required=True, feature=True))
    category: Mapped[str] = mapped_column(
        Text, nullable=False, info=exposed(required=True, choices=PremisesCategory, feature=True)
    )
    address: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    license_no: Mapped[str | None] = mapped_column(Text, info=exposed(file=True, feature=True))
    status: Mapped[str] = mapped_column(  # now; by date: the history
        Text, nullable=False, server_default="open", info=exposed(file=True, choices=PremisesStatus, feature=True)
    )
    closed_on: Mapped[date | None] = mapped_column(  # the registry's closure day: the status holds from it (0008)
        Date, comment="the day the current closure began (registry)", info=exposed(file=True)
    )
    district_code: Mapped[str] = mapped_column(  # derived: see migration 0001
        Text, nullable=False, index=True, info=exposed(feature=True, district=True)
    )
    geom = mapped_column(
        Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), nullable=False, info=exposed(file=True, feature=True)
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), info=exposed(time=True)
    )


class PremiseStatusHistory(Base):
    """The status a premise had from a day on, so a past day's due list ignores later visits and imports.

    Written by inspections (one row each) and by a trigger on ``premises`` for every other status write;
    ``valid_from`` NULL means since always (the status a premise was first loaded with).
    """

    __tablename__ = "premise_status_history"
    __table_args__ = (
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
    status: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(choices=PremisesStatus))
    valid_from: Mapped[date | None] = mapped_column(Date, comment="first day the status holds; NULL: since always")
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    source: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(choices=("import", "inspection")))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
