"""Derived feature–school pairs within reach (migration 0005; kept by ``services.links``)."""

from __future__ import annotations

from sqlalchemy import Double, Text
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base


class PremiseSchoolLink(Base):
    """A premise's nearest kindergarten and nearest other school within ``proximity.PREMISE_REACH_M``."""

    __tablename__ = "premise_school_links"
    premise_id: Mapped[str] = mapped_column(Text, primary_key=True)
    school_id: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    distance_m: Mapped[float] = mapped_column(Double)


class HazardSchoolLink(Base):
    """Every school within ``proximity.HAZARD_REACH_M`` of a live water zone."""

    __tablename__ = "hazard_school_links"
    hazard_id: Mapped[str] = mapped_column(Text, primary_key=True)
    school_id: Mapped[str] = mapped_column(Text, primary_key=True, index=True)
    distance_m: Mapped[float] = mapped_column(Double)
