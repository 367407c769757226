"""Inspection records of premises and water hazard zones, and the log of file imports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    UUID,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.crs import STORAGE_SRID
from geo_safety.layers.base import Base, exposed, valid_geometry
from geo_safety.layers.spec import FieldSpec, FileLayer
from geo_safety.rules import InspectionResult


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (
        CheckConstraint("num_nonnulls(premise_id, hazard_id) = 1", name="one_target"),
        CheckConstraint(valid_geometry("position"), name="position_valid"),
    )

    #: the ledger file: each row names its premise or zone (``target_id``, ``target_type`` when ids could clash),
    #: which the importer turns into ``premise_id`` or ``hazard_id``; rows are only ever appended
    __file_layers__: ClassVar[tuple[FileLayer, ...]] = (
        FileLayer(
            "inspections",
            key="row",
            file_only=(
                FieldSpec("target_id", required=True),
                FieldSpec("target_type", choices=("premise", "water_hazard")),
            ),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    premise_id: Mapped[str | None] = mapped_column(ForeignKey("premises.id"))
    hazard_id: Mapped[str | None] = mapped_column(ForeignKey("water_hazards.id"))
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, info=exposed(required=True))
    inspector: Mapped[str | None] = mapped_column(Text, info=exposed(file=True))
    result: Mapped[str] = mapped_column(Text, nullable=False, info=exposed(required=True, choices=InspectionResult))
    findings: Mapped[str | None] = mapped_column(Text, info=exposed(file=True))
    follow_up_due: Mapped[date | None] = mapped_column(Date, info=exposed(file=True))
    position = mapped_column(Geometry("POINT", srid=STORAGE_SRID, spatial_index=False), comment="reported, in WGS84")
    position_datum: Mapped[str | None] = mapped_column(Text, comment="datum the position arrived in")
    off_site: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUID)  # made on the phone: a resend stores nothing new
    payload_sha256: Mapped[str | None] = mapped_column(Text)
    position_accuracy_m: Mapped[float | None] = mapped_column(Double)


class InspectionPhoto(Base):
    """A photo of a visit, stored with the visit in one transaction (evidence; carried by backups)."""

    __tablename__ = "inspection_photos"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    media_type: Mapped[str] = mapped_column(Text, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(Text, nullable=False)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    exif_lon: Mapped[float | None] = mapped_column(Double)
    exif_lat: Mapped[float | None] = mapped_column(Double)
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class DayPlan(Base):
    """An inspector's plan of one day and scope, fixed when first opened."""

    __tablename__ = "day_plans"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    groups: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


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
