"""The first load into an empty layer: ``COPY`` straight into the table, its indexes rebuilt afterwards.

Keeping a GiST index up to date row by row cost ~25 s of a 1,000,000-point load; building it once,
sorted, after the rows are in takes ~3 s, and skipping the staging table saves writing every row
twice. For ``premises`` the database also sets aside its key, the keys and indexes of the tables derived
from it and its insert triggers, and does their work once after the rows and their school links are in
(migration 0012). All of it is part of the import's single transaction, so a rejected file leaves the
tables, their indexes and triggers exactly as they were. The price: readers of that layer (and, for
premises, of the tables referring to it) wait until the load commits; the table was empty anyway.
Loads into a table that already holds rows, and every district-limited load (its rows are checked against the
caller's write scope before any is written), go through the staging table (see ``imports``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from contextlib import ExitStack, suppress

import numpy as np
import pandas as pd
import shapely
from psycopg import Connection as PgConnection
from psycopg import errors as pg_errors

from geo_safety.errors import ImportRejected
from geo_safety.layers import LayerSpec
from geo_safety.services.copy_csv import to_copy_csv
from geo_safety.sql import imports as sql_imports

_COPY_LINE = re.compile(r"line (\d+)")
#: Writes the school links of the rows just copied: (connection, ids, longitudes, latitudes) -> links written.
LinkWriter = Callable[[PgConnection, np.ndarray, np.ndarray, np.ndarray], int]


def direct_load_applies(raw: PgConnection, layer: LayerSpec) -> bool:
    """Whether ``layer`` takes plain rows and its table is empty (checked again under the lock)."""
    if layer.key == "row" or layer.update_only or layer.name == "inspections":
        return False
    if _has_rows(raw, layer.table):
        return False
    raw.execute(sql_imports.lock_exclusive(layer.table))
    return not _has_rows(raw, layer.table)


def _has_rows(raw: PgConnection, table: str) -> bool:
    row = raw.execute(sql_imports.has_rows(table)).fetchone()
    assert row is not None  # EXISTS always returns its one row
    return bool(row[0])


class DirectLoad:
    """Streams validated chunks into the (locked, empty) table through one ``COPY``."""

    def __init__(self, raw: PgConnection, layer: LayerSpec, file_name: str, link: LinkWriter | None = None) -> None:
        self.raw, self.layer, self.file_name, self.link = raw, layer, file_name, link
        self.sources = [f.name for f in layer.fields]
        if layer.geometry:
            self.sources.append("geometry")
            if layer.assign_district:
                self.sources.append("district_code")
        self.key_chunks: list[pd.Series] = []
        self.xy_chunks: list[np.ndarray] = []  # point layers: what the school links are computed from
        self.rows = 0
        self.indexes = self._drop_secondary_indexes()
        raw.execute(sql_imports.bulk_load_begin(layer.table))
        statement = sql_imports.copy_into(layer)  # the same columns, named as in the table
        self._stack = ExitStack()
        self._copy = self._stack.enter_context(raw.cursor().copy(statement))

    def _drop_secondary_indexes(self) -> list[str]:
        """Drop every index that backs no constraint (keys: see :data:`sql_imports.bulk_load_begin`)."""
        found = self.raw.execute(sql_imports.SECONDARY_INDEXES, (self.layer.table,)).fetchall()
        for name, _ in found:
            self.raw.execute(sql_imports.drop_catalogued_index(name))
        return [definition for _, definition in found]

    def encode(self, frame: pd.DataFrame) -> bytes:
        """The chunk as COPY input (no database work: may run in another thread)."""
        return to_copy_csv(frame, self.sources)

    def write(self, frame: pd.DataFrame, data: bytes) -> None:
        self.key_chunks.append(frame[self.layer.key])
        if self.layer.geometry == "Point":
            self.xy_chunks.append(shapely.get_coordinates(frame["geometry"].to_numpy()))
        try:
            self._copy.write(data)
        except pg_errors.Error as exc:
            raise self._rejected(exc) from exc
        self.rows += len(frame)

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row's key, longitude and latitude, as written (point layers)."""
        xy = np.concatenate(self.xy_chunks) if self.xy_chunks else np.empty((0, 2))
        keys = pd.concat(self.key_chunks).to_numpy(dtype=object) if self.key_chunks else np.empty(0, dtype=object)
        return keys, xy[:, 0], xy[:, 1]

    def abort(self) -> None:
        """End an open COPY with a failure message, so the transaction can roll back."""
        with suppress(pg_errors.Error):  # the server's answer to the aborted COPY; the import's own error matters
            self._stack.__exit__(*sys.exc_info())

    def apply(self, mode: str, file_name: str) -> tuple[int, int, int]:
        """Finish the COPY, write the rows' links, restore keys and indexes, refresh planner statistics."""
        try:
            self._stack.close()
        except pg_errors.Error as exc:
            raise self._rejected(exc) from exc
        try:
            if self.link is not None:
                self.link(self.raw, *self.points())
            self.raw.execute(sql_imports.bulk_load_end(self.layer.table))  # a duplicate id fails here
        except pg_errors.UniqueViolation as exc:
            raise self._duplicate() from exc
        for definition in self.indexes:
            self.raw.execute(definition)
        self.raw.execute(sql_imports.analyze(self.layer.table))
        return self.rows, 0, 0

    def _rejected(self, exc: pg_errors.Error) -> ImportRejected:
        if isinstance(exc, pg_errors.UniqueViolation):
            return self._duplicate()
        match = _COPY_LINE.search(exc.diag.context or "")
        row = int(match.group(1)) if match else None
        return ImportRejected(self.file_name, f"rejected by the database: {exc.diag.message_primary}", row=row)

    def _duplicate(self) -> ImportRejected:
        """Name the first row whose id was already used, and the row that used it (rows as in the file)."""
        keys = pd.concat(self.key_chunks)
        again = keys.duplicated(keep="first").to_numpy()
        if not again.any():
            return ImportRejected(self.file_name, "duplicate id", field=self.layer.key)
        second = int(np.argmax(again))
        first = int(np.argmax((keys == keys.iloc[second]).to_numpy()))
        return ImportRejected(
            self.file_name,
            f"duplicate id (also in row {keys.index[first]})",
            row=int(keys.index[second]),
            feature_id=str(keys.iloc[second]),
            field=self.layer.key,
        )
