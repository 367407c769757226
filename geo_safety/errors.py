"""Domain errors with a message a person can act on. No HTTP here: the API maps them to status codes."""

from __future__ import annotations


class GeoSafetyError(Exception):
    """Base class: ``str(err)`` is the user-facing message; ``code`` is stable for clients (e.g. ``zone.too_small``).

    Each class has a default code; the place that raises an error may name a more precise one with ``code=``.
    """

    code: str = "error"

    def __init__(self, *args: object, code: str | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code


class NotFound(GeoSafetyError):
    """A named object does not exist."""

    code = "not_found"


class Unauthenticated(GeoSafetyError):
    """No credentials, or credentials that are wrong, revoked or expired."""

    code = "auth.unauthenticated"


class Forbidden(GeoSafetyError):
    """Authenticated, but the role or the district scope does not allow this."""

    code = "auth.forbidden"


class Conflict(GeoSafetyError):
    """The write clashes with what is stored (duplicate id, stale version)."""

    code = "conflict"


class StaleVersion(Conflict):
    """A write based on a version that is no longer current (someone else changed it first)."""

    code = "version.stale"

    def __init__(
        self, message: str, current_version: int, *, precondition: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.current_version = current_version
        self.precondition = precondition  # True: it came as If-Match (HTTP 412), else a body field (409)


class VersionRequired(GeoSafetyError):
    """An edit that does not say which version it read."""

    code = "version.required"


class InvalidInput(GeoSafetyError):
    """Input that can never be accepted as it is."""

    code = "validation.invalid"


class BadParameter(InvalidInput):
    """A query parameter of a standard interface (OGC API) that is malformed: HTTP 400, as the standard asks."""

    code = "validation.parameter"


class InvalidGeometry(InvalidInput):
    """A geometry that is empty, of the wrong type, has non-finite coordinates or is not valid."""

    code = "zone.invalid_geometry"


class UnknownCategory(InvalidInput):
    """A value outside a closed list (school kind, premises category, hazard kind, result)."""

    code = "validation.category"


class OutsideServiceArea(InvalidInput):
    """A location outside every district of the service area."""

    code = "location.outside_service_area"


class TooLarge(InvalidInput):
    """A request or upload beyond the configured limits."""

    code = "request.too_large"


class ImportRejected(InvalidInput):
    """A file import that was rejected as a whole; names the file, row, id and field."""

    code = "import.rejected"

    def __init__(
        self,
        file: str,
        problem: str,
        *,
        row: int | None = None,
        feature_id: str | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        self.file, self.problem, self.row, self.feature_id, self.field = file, problem, row, feature_id, field
        where = [file]
        if row is not None:
            where.append(f"row {row}")
        if feature_id is not None:
            where.append(f"id {feature_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}. Nothing was loaded.", code=code)


class DatabaseUnavailable(GeoSafetyError):
    """The database cannot be reached or started."""

    code = "service.database_unavailable"
