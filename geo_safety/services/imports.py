"""File → validated chunks → COPY into a staging table → one statement into the layer. All or nothing.

Everything happens in one transaction: a bad row anywhere in the file (found in Python while
streaming, or by the database at the end) rolls back the whole load, so the tables are exactly
as before. Chunks are streamed, so memory stays bounded for millions of rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import TYPE_CHECKING, Any

import pandas as pd
import shapely
from psycopg import errors as pg_errors
from psycopg.abc import Query
from sqlalchemy import Connection, Engine
from tqdm import tqdm

from geo_safety.area import ServiceArea
from geo_safety.crs import Datum, parse_datum
from geo_safety.db import psycopg_connection
from geo_safety.errors import Forbidden, ImportRejected, InvalidInput
from geo_safety.layers import LayerSpec, get_layer
from geo_safety.services import links, scope
from geo_safety.services.audit import Actor, record, set_actor
from geo_safety.services.bulkload import DirectLoad, direct_load_applies
from geo_safety.services.copy_csv import to_copy_csv
from geo_safety.services.readers import FileReader
from geo_safety.services.scope import WriteScope
from geo_safety.services.validate import ChunkValidator
from geo_safety.sql import imports as sql_imports
from geo_safety.sql import reads as sql_reads

if TYPE_CHECKING:
    from geo_safety.services.users import Principal

MODES = ("append", "upsert", "replace")


@dataclass
class ImportResult:
    layer: str
    file_name: str
    datum: str
    mode: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    repaired: int = 0
    seconds: float = 0.0
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{self.layer}: {self.rows_read:,} rows read from {self.file_name} ({self.datum})",
            f"{self.inserted:,} inserted",
            f"{self.updated:,} updated",
            f"{self.deleted:,} removed",
        ]
        if self.repaired:
            parts.append(f"{self.repaired:,} geometries repaired")
        line = ", ".join(parts) + f" in {self.seconds:.1f} s"
        if self.ignored_columns:
            line += f"\n  columns not used: {', '.join(sorted(self.ignored_columns))}"
        return line


def load_service_area(conn: Connection, margin_m: float = 250.0) -> ServiceArea:
    rows = conn.execute(sql_imports.SERVICE_AREA).all()
    return ServiceArea([r[0] for r in rows], [shapely.from_wkb(bytes(r[1])) for r in rows], margin_m)


def load_file(
    engine: Engine,
    layer_name: str,
    path: Path | str,
    *,
    datum: Datum | str,
    mode: str = "append",
    rename: dict[str, str] | None = None,
    repair: bool = False,
    encoding: str | None = None,
    chunk_rows: int = 100_000,
    progress: bool = False,
    actor: Actor | None = None,
    allowed_districts: tuple[str, ...] | None = None,
    user: Principal | None = None,
) -> ImportResult:
    """Load ``path`` into ``layer_name``; raises :class:`ImportRejected` and changes nothing on bad input.

    Who may write what is decided by :mod:`geo_safety.services.scope`, as for every other write: ``user``
    (its role and districts), else ``allowed_districts`` (the districts the caller may write in), else neither:
    the machine operator on the command line, who may write the whole city. A district-limited load may
    only write rows of its districts (no other district's ids, no zone reaching outside), and ``replace``
    removes only rows of its districts.
    """
    actor = actor or Actor.command_line()
    started = time.perf_counter()
    path = Path(path)
    try:
        layer = get_layer(layer_name)
        datum = parse_datum(datum)
    except (KeyError, ValueError) as exc:
        raise InvalidInput(str(exc.args[0])) from exc
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; use one of: {', '.join(MODES)}")
    if layer.name == "inspections" and mode != "append":
        raise InvalidInput("inspection records are a ledger: they can only be appended (--mode append)")
    write_scope = scope.for_import(layer, user, allowed_districts)
    reader = FileReader(path, chunk_rows=chunk_rows, encoding=encoding)
    result = ImportResult(layer.name, reader.name, datum.value, mode)
    with engine.begin() as conn:
        set_actor(conn, actor)  # for the hazard-history trigger
        area = load_service_area(conn) if layer.assign_district else None
        validator = ChunkValidator(reader.name, layer, datum, area, rename=rename or {}, repair=repair, arrow_text=True)
        raw = psycopg_connection(conn)
        # a district-limited load goes through the staging table, where its rows are checked before any is written
        direct = write_scope.unrestricted and direct_load_applies(raw, layer)
        staging: _Staging | DirectLoad = (
            DirectLoad(raw, layer, reader.name, link=links.link_new_premises if layer.name == "premises" else None)
            if direct
            else _Staging(conn, layer, write_scope)
        )
        try:
            inserted, updated, deleted = _stream(reader, validator, staging, result, mode, write_scope, progress)
        except BaseException:
            staging.abort()  # a COPY still open must be ended before the transaction can roll back
            raise
        result.inserted, result.updated, result.deleted = inserted, updated, deleted
        conn.execute(
            sql_imports.INSERT_IMPORT_RUN,
            {
                "layer": layer.name,
                "file": reader.name,
                "datum": datum.value,
                "mode": mode,
                "rows": result.rows_read,
                "ins": inserted,
                "upd": updated,
                "del": deleted,
                "rep": result.repaired,
                "by": actor.name,
            },
        )
        record(
            conn,
            actor,
            "import",
            layer.name,
            reader.name,
            {
                "datum": datum.value,
                "mode": mode,
                "rows": result.rows_read,
                "inserted": inserted,
                "updated": updated,
                "deleted": deleted,
                "repaired": result.repaired,
            },
        )
    result.seconds = time.perf_counter() - started
    return result


def _stream(
    reader: FileReader,
    validator: ChunkValidator,
    staging: _Staging | DirectLoad,
    result: ImportResult,
    mode: str,
    write_scope: WriteScope,
    progress: bool,
) -> tuple[int, int, int]:
    """Validate and copy every chunk, check the caller's scope, then write: (inserted, updated, deleted)."""
    layer = validator.layer
    with tqdm(total=reader.total, unit=" rows", disable=not progress, desc=f"loading {layer.name}") as bar:
        for frame, data in _prepared(reader, validator, staging):
            staging.write(frame, data)
            result.rows_read += len(frame)
            bar.update(len(frame))
    result.repaired = validator.repaired
    result.ignored_columns = sorted(validator.ignored_columns)
    if isinstance(staging, _Staging):  # a direct load is unrestricted (see load_file)
        scope.check_file(staging.raw, write_scope, layer, reader.name)
    try:
        counts = staging.apply(mode, reader.name)
    except pg_errors.IntegrityError as exc:  # a rule only the database knows (should be rare)
        raise ImportRejected(reader.name, f"rejected by the database: {exc.diag.message_primary}") from exc
    _refresh_links(staging, layer, mode)
    return counts


def _prepared(
    reader: FileReader, validator: ChunkValidator, staging: _Staging | DirectLoad
) -> Iterator[tuple[pd.DataFrame, bytes]]:
    """Validated, encoded chunks, read and prepared in a second thread while this one feeds the database.

    Reading, validation and encoding (GDAL, Arrow, shapely, numpy: mostly outside the GIL) overlap the
    server's work on the previous chunk instead of waiting for it; at most two chunks wait in memory.
    An error in the reader thread is raised here, where the transaction is.
    """
    queue: Queue[tuple[pd.DataFrame, bytes] | BaseException | None] = Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in reader.chunks():
                if stop.is_set():
                    return
                frame = validator.convert(chunk)
                queue.put((frame, staging.encode(frame)))
            queue.put(None)
        except BaseException as exc:  # handed to the consuming thread
            queue.put(exc)

    worker = threading.Thread(target=produce, name="import-reader", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a blocked producer finish
            with suppress(Empty):
                queue.get(timeout=0.1)
        worker.join()


def _refresh_links(staging: _Staging | DirectLoad, layer: LayerSpec, mode: str) -> None:
    """Feature–school links of what was written (all of the layer's after a first load or a replace)."""
    if layer.name not in ("premises", "water_hazards", "schools", "school_campuses"):
        return
    if layer.name == "premises" and isinstance(staging, DirectLoad):
        return  # linked inside the load, before its keys and the due state are built (``bulkload``)
    ids = None if isinstance(staging, DirectLoad) or mode == "replace" else staging.keys()
    if layer.name == "premises":
        links.refresh_premises(staging.raw, ids)
    elif layer.name == "water_hazards":
        links.refresh_hazards(staging.raw, ids)
    else:
        links.refresh_around_schools(staging.raw, ids)


class _Staging:
    """A temporary table shaped like the file's canonical columns, filled by COPY."""

    def __init__(self, conn: Connection, layer: LayerSpec, write_scope: WriteScope) -> None:
        self.conn, self.layer, self.scope = conn, layer, write_scope
        self.raw = psycopg_connection(conn)  # the psycopg connection, same transaction
        self.columns = sql_imports.staging_columns(layer)
        self._copy = sql_imports.copy_into_staging(layer)
        self.raw.execute(sql_imports.create_staging(layer))

    def encode(self, frame: pd.DataFrame) -> bytes:
        """The chunk as COPY input, with its row numbers (no database work: may run in another thread)."""
        return to_copy_csv(frame.assign(row_no=frame.index.to_numpy()), self.columns)

    def write(self, frame: pd.DataFrame, data: bytes) -> None:
        with self.raw.cursor().copy(self._copy) as copy:
            copy.write(data)

    def abort(self) -> None:
        """Nothing to end: each chunk's COPY is complete when ``copy`` returns."""

    def keys(self) -> list[str]:
        """The ids in the file (after ``apply``: every row written)."""
        return [row[0] for row in self.raw.execute(sql_imports.staged_keys(self.layer))]

    def _first(self, query: Query) -> tuple[Any, ...] | None:
        return self.raw.execute(query).fetchone()

    def apply(self, mode: str, file_name: str) -> tuple[int, int, int]:
        if self.layer.key != "row":
            self._unique_keys(file_name)
        self.raw.execute(sql_imports.ANALYZE_STAGING)
        if self.layer.name == "inspections":
            counts = self._apply_inspections(file_name)
        elif self.layer.update_only:
            counts = self._apply_campuses(mode, file_name)
        else:
            counts = self._apply_rows(mode, file_name)
        # fresh planner statistics: right after a bulk load the spatial joins otherwise get plans that are
        # orders of magnitude slower (seen: a city-wide hotspot query past the API's 20 s timeout)
        self.raw.execute(sql_imports.analyze(self.layer.table))
        return counts

    def _unique_keys(self, file_name: str) -> None:
        """A unique index on the key: finds duplicates in the file, then serves the joins below."""
        try:
            with self.raw.transaction():
                self.raw.execute(sql_imports.unique_staged_key(self.layer))
        except pg_errors.UniqueViolation:
            dup = self.raw.execute(sql_imports.duplicate_staged_key(self.layer)).fetchone()
            assert dup is not None
            raise ImportRejected(
                file_name, f"duplicate id (also in row {dup[1]})", row=dup[2], feature_id=dup[0], field=self.layer.key
            ) from None

    def _apply_rows(self, mode: str, file_name: str) -> tuple[int, int, int]:
        table, key = self.layer.table, self.layer.key
        if mode == "append":
            clash = self._first(sql_imports.first_clash(self.layer))
            if clash:
                raise ImportRejected(
                    file_name,
                    "duplicate id: already in the database (use --mode upsert to update)",
                    row=clash[0],
                    feature_id=clash[1],
                    field=key,
                )
            cur = self.raw.execute(sql_imports.insert_staged(self.layer))
            return cur.rowcount, 0, 0
        # the stored rows were checked against the caller's scope (scope.check_file); the condition here also
        # keeps a row another session moved out of it meanwhile from being taken over
        stored_in_scope, stored_params = self.scope.rows_sql(f"{table}.district_code")
        counted = self.raw.execute(
            sql_imports.upsert_staged(self.layer, stored_in_scope),
            stored_params or None,
        ).fetchone()
        assert counted is not None  # an aggregate always returns its one row
        inserted, updated, total = counted
        if inserted + updated != total:
            raise Forbidden(
                f"{file_name}: a row of another district was changed while the file loaded; "
                "load it again. Nothing was loaded."
            )
        deleted = 0
        if mode == "replace":
            in_scope, scope_params = self.scope.rows_sql(f"{table}.district_code")  # only the caller's rows go
            if table == "water_hazards":  # hazards are never deleted: they leave maps and stay in history
                deleted = self.raw.execute(
                    sql_imports.soft_delete_missing(self.layer, in_scope), scope_params or None
                ).rowcount
            else:
                if table == "districts":
                    self._refuse_orphans(file_name)
                try:
                    with self.raw.transaction():
                        deleted = self.raw.execute(
                            sql_imports.delete_missing(self.layer, in_scope), scope_params or None
                        ).rowcount
                except pg_errors.ForeignKeyViolation as exc:
                    raise ImportRejected(
                        file_name,
                        f"--mode replace would delete {table} rows that other records still refer to "
                        f"({exc.diag.message_detail}); use --mode upsert, or close them instead",
                    ) from exc
        return inserted, updated, deleted

    def _refuse_orphans(self, file_name: str) -> None:
        """Features keep a derived district code (no foreign key): never remove a district they still use."""
        used = self._first(sql_imports.ORPHANED_DISTRICT)
        if used:
            raise ImportRejected(
                file_name,
                f"--mode replace would remove district {used[0]}, which schools, premises or water "
                "hazards still lie in; use --mode upsert",
            )

    def _apply_campuses(self, mode: str, file_name: str) -> tuple[int, int, int]:
        unknown = self._first(sql_imports.UNKNOWN_SCHOOL)
        if unknown:
            raise ImportRejected(
                file_name,
                "unknown school id (load the schools first)",
                row=unknown[0],
                feature_id=unknown[1],
                field="id",
            )
        far = self._first(sql_imports.FAR_CAMPUS)
        if far:
            raise ImportRejected(
                file_name,
                "campus lies more than 500 m from the school's gate (wrong school or datum?)",
                row=far[0],
                feature_id=far[1],
                field="geometry",
            )
        updated = self.raw.execute(sql_imports.SET_CAMPUSES).rowcount
        cleared = 0
        if mode == "replace":
            cleared = self.raw.execute(sql_imports.CLEAR_MISSING_CAMPUSES).rowcount
        return 0, updated, cleared

    def _apply_inspections(self, file_name: str) -> tuple[int, int, int]:
        self.raw.execute(sql_imports.RESOLVE_TARGETS)
        bad = self._first(sql_imports.BAD_TARGET)
        if bad:
            problem = (
                "the id names both a premise and a water hazard; add target_type"
                if bad[2]
                else "unknown target: no premise or water hazard has this id"
            )
            raise ImportRejected(file_name, problem, row=bad[0], feature_id=bad[1], field="target_id")
        future = self._first(sql_imports.FUTURE_VISIT)
        if future:
            raise ImportRejected(
                file_name,
                "inspection date lies in the future",
                row=future[0],
                feature_id=future[1],
                field="inspected_at",
            )
        self.raw.execute(sql_imports.CREATE_WRITTEN_INSPECTIONS)
        cur = self.raw.execute(sql_imports.INSERT_INSPECTIONS)
        # each visit's status from its day on, then the premises' current status from their history
        self.raw.execute(sql_reads.status_from_inspections(sql_imports.WRITTEN_INSPECTION_IDS).text)
        self.raw.execute(sql_reads.sync_premise_status(sql_imports.VISITED_PREMISES).text)
        return cur.rowcount, 0, 0


__all__ = ["MODES", "ImportResult", "load_file", "load_service_area"]
