"""Data versions per district and layer (migration 0009): what a cached answer's key is made of."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from geo_safety.layers.base import Base

#: the ``district_code`` of a change that may touch any district (schools, outlines, TRUNCATE)
WHOLE_AREA = "*"


class DataVersion(Base):
    """Raised by statement triggers in the writing transaction; never written by the application itself."""

    __tablename__ = "data_versions"

    district_code: Mapped[str] = mapped_column(Text, primary_key=True, comment="adcode, or * for any district")
    layer: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="1")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
