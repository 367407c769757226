"""Configuration from the environment (prefix ``GEO_SAFETY_``); nothing is built at import time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DEFAULT_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and a bureau's server."""

    model_config = SettingsConfigDict(env_prefix="GEO_SAFETY_", extra="ignore")

    #: An external PostGIS (e.g. the bureau's). When unset the project-local cluster is used.
    database_url: str | None = None
    #: Folder of the project-local cluster and its credentials.
    home: Path = Path(".geo_safety")
    #: TCP port of the project-local cluster (loopback only).
    db_port: int = 54329
    #: Folder with the bundled data (boundaries and the synthetic sample).
    data_dir: Path = PROJECT_DIR / "data"
    #: Rows per chunk when streaming a file into the database.
    import_chunk_rows: int = 100_000
    #: Distance rules (TOML); the packaged defaults when unset.
    rules: Path | None = None
    #: Key periods (TOML: vacations, notices the chinesecalendar package lacks); the packaged file when unset.
    calendar: Path | None = None
    #: Basemap: "none", "osm", "tianditu" (needs ``tianditu_key``) or an XYZ URL template in WGS84/Web Mercator.
    tiles: str = "none"
    tianditu_key: str | None = None
    #: An offline basemap the app serves itself at /tiles/{z}/{x}/{y}: MBTiles or PMTiles v3 (raster or vector).
    #: Unset: the light vector basemap drawn from the bundled data (/api/v1/basemap/features).
    basemap_file: Path | None = None
    #: Largest file accepted by the upload endpoint.
    max_upload_mb: int = 512
    #: Largest other request body (JSON).
    max_body_mb: int = 10
    #: Visit photos (``POST /api/v1/visits``): largest photo, most pixels (decompression bombs), and how far a
    #: photo's own EXIF time and GPS may lie from the visit's time and target before the photo is flagged.
    max_photo_mb: int = Field(default=12, ge=1)
    max_photo_megapixels: int = Field(default=50, ge=1)
    photo_time_tolerance_hours: float = Field(default=12, gt=0)
    photo_distance_m: float = Field(default=200, gt=0)
    #: The API's statements are cancelled after this long, so one huge request cannot starve the inspectors.
    statement_timeout_ms: int = 20_000
    #: Heavy requests (wide hotspot radii, whole-city due lists, OGC query collections, reports) running at once
    #: per process, and per user; more get 429 with Retry-After, so one user cannot take the service from others.
    heavy_per_process: int = 4
    heavy_per_user: int = 2
    #: A request body must arrive within this long (uploads: ``upload_timeout_s``), or the client gets 408.
    body_timeout_s: float = 30.0
    upload_timeout_s: float = 900.0
    #: Idle keep-alive connections are closed after this long (uvicorn ``timeout_keep_alive``).
    keep_alive_s: int = 5
    #: Browser origins allowed to call the API from other sites (CORS); none by default.
    cors_origins: list[str] = []
    #: ``production`` refuses to start with the default secret or with demo users.
    environment: str = "development"
    #: Pepper for API-token and session digests: a stolen database alone cannot use them.
    secret_key: str = DEFAULT_SECRET
    #: Browser sessions last this long.
    session_hours: int = 12
    #: Mark the session cookie Secure even when TLS ends at a proxy in front of the app.
    cookie_secure: bool = False
    #: API tokens stop working this many days after they are issued.
    token_days: int = Field(default=90, ge=1)
    #: Failed logins per account within ``login_window_minutes`` before the account is locked for that long.
    login_max_failures: int = Field(default=5, ge=1)
    #: Failed logins per client address (any accounts) within the window before the address is locked.
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    #: Password checks (argon2id, 64 MiB each) running at once per process; more logins get 503 at once.
    login_concurrency: int = Field(default=4, ge=1)
    #: Reverse proxies (IP addresses or CIDR networks) whose ``X-Forwarded-For`` names the client; none by default.
    trusted_proxies: list[str] = []
    #: Accept HTTP Basic (user + API token) over plain HTTP from other machines too; by default only over TLS
    #: (or ``X-Forwarded-Proto: https`` from a trusted proxy) or from loopback.
    basic_over_http: bool = False

    @field_validator("database_url")
    @classmethod
    def _force_psycopg(cls, value: str | None) -> str | None:
        """Accept ``postgres://`` and ``postgresql://`` URLs but always drive them with psycopg 3."""
        if not value:
            return None
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        raise ValueError("GEO_SAFETY_DATABASE_URL must be a postgresql:// URL")

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == "production"

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests build their own ``Settings`` and pass them in."""
    return Settings()
