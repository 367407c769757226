"""Visit photos as evidence: judged by their content, measured, thumbnailed, and checked against the visit.

Only JPEG, PNG and WebP are kept, decided by the bytes (magic number, then a full decode by Pillow), never by a
file name or a declared type: a phone or a script can label anything ``image/jpeg``. Every pixel is decoded
once, so a truncated or corrupt file is refused before anything is stored, and the pixel count is checked from
the header before decoding (decompression bombs). The photo's own EXIF time and GPS position are read so a
photo taken elsewhere or at another time than the visit can be flagged (it is still stored: it is evidence).
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from geo_safety.errors import InvalidInput, TooLarge
from geo_safety.rules import LOCAL_TZ

#: Most photos one visit may carry.
MAX_PHOTOS = 8
#: Long side of a thumbnail, in pixels (JPEG).
THUMB_PX = 320
TIME_MISMATCH = "photo_time_mismatch"
POSITION_MISMATCH = "photo_position_mismatch"

_MB = 1024 * 1024
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: What a refused file most likely is, to tell the inspector (an iPhone's HEIC, a GIF, a PDF...).
_OTHER_KINDS = (
    (b"GIF8", 0, "GIF"),
    (b"ftypheic", 4, "HEIC"),
    (b"ftypheix", 4, "HEIC"),
    (b"ftypmif1", 4, "HEIF"),
    (b"ftypavif", 4, "AVIF"),
    (b"BM", 0, "BMP"),
    (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"),
    (b"%PDF", 0, "PDF"),
)


@dataclass(frozen=True)
class PhotoLimits:
    """The bounds a photo is held to (from the settings), in one place."""

    max_bytes: int = 12 * _MB
    max_pixels: int = 50_000_000
    time_tolerance: timedelta = timedelta(hours=12)
    distance_m: float = 200.0


@dataclass
class CheckedPhoto:
    """A photo that decoded completely, with what the visit stores about it."""

    seq: int
    media_type: str
    content: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    taken_at: datetime | None = None
    exif_lon: float | None = None
    exif_lat: float | None = None
    flags: list[str] = field(default_factory=list)


class PhotoRefused(InvalidInput):
    """One photo of a visit cannot be stored; the message names it (1-based, in the order sent)."""


def sniff(data: bytes) -> str | None:
    """The image format by its magic number, or ``None``.

    >>> sniff(b"\\xff\\xd8\\xff\\xe0rest"), sniff(b"RIFF\\x00\\x00\\x00\\x00WEBPVP8 "), sniff(b"GIF89a")
    ('JPEG', 'WEBP', None)
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _refuse(seq: int, zh: str, en: str) -> PhotoRefused:
    return PhotoRefused(f"第{seq}张照片{zh} (photo {seq} {en})")


def check_photo(seq: int, data: bytes, limits: PhotoLimits) -> CheckedPhoto:
    """Decode photo ``seq`` completely and describe it, or refuse it with a reason a phone can show."""
    if not data:
        raise _refuse(seq, "是空的", "is empty")
    if len(data) > limits.max_bytes:
        raise TooLarge(
            f"第{seq}张照片超过 {limits.max_bytes / _MB:g} MB (photo {seq} is {len(data) / _MB:.1f} MB, "
            f"larger than {limits.max_bytes / _MB:g} MB)"
        )
    kind = sniff(data)
    if kind is None:
        seen = next((f" ({name})" for magic, at, name in _OTHER_KINDS if data[at : at + len(magic)] == magic), "")
        raise _refuse(seq, f"不是 JPEG/PNG/WebP 图片{seen}", f"is not a JPEG, PNG or WebP image{seen}")
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
    except Image.DecompressionBombError:
        raise _refuse(seq, "像素过多", f"has more than {limits.max_pixels:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _refuse(seq, "无法读取，文件已损坏", f"cannot be read as {kind}: the file is damaged") from None
    with image:
        width, height = image.size
        if width * height > limits.max_pixels:
            raise _refuse(
                seq,
                f"像素过多 ({width}×{height})",
                f"has {width}×{height} pixels, more than {limits.max_pixels:,}",
            )
        exif = _exif(image)
        try:
            thumbnail = _thumbnail(image, exif.get(ExifTags.Base.Orientation))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise _refuse(seq, "不完整或已损坏", f"is truncated or damaged ({kind} does not decode)") from None
    if exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8):
        width, height = height, width  # as it is shown
    lon, lat = _gps(exif)
    return CheckedPhoto(
        seq=seq,
        media_type=_FORMATS[kind],
        content=data,
        thumbnail=thumbnail,
        width=width,
        height=height,
        sha256=digest(data),
        taken_at=_taken_at(exif),
        exif_lon=lon,
        exif_lat=lat,
    )


def _exif(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # a broken EXIF block is not a broken photo; it only tells us nothing
        return Image.Exif()


def _thumbnail(image: Image.Image, orientation: object) -> bytes:
    """A JPEG, long side ``THUMB_PX``, upright; decoding it reads every byte of the original (truncation shows)."""
    image.draft("RGB", (THUMB_PX, THUMB_PX))  # JPEG: decode at a reduced scale, still through the whole stream
    image.load()
    small = image.copy()
    if orientation in range(2, 9):
        small = ImageOps.exif_transpose(small) or small
    small.thumbnail((THUMB_PX, THUMB_PX))
    if small.mode in ("RGBA", "LA", "PA") or (small.mode == "P" and "transparency" in small.info):
        rgba = small.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        small = flat
    elif small.mode != "RGB":
        small = small.convert("RGB")
    out = io.BytesIO()
    small.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal with its OffsetTimeOriginal, else read as Asia/Shanghai time (a phone's clock here)."""
    try:
        ifd = exif.get_ifd(ExifTags.IFD.Exif)
        raw = ifd.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
        if not isinstance(raw, str):
            return None
        taken = datetime.strptime(raw.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
        offset = ifd.get(ExifTags.Base.OffsetTimeOriginal)
        if isinstance(offset, str) and len(offset.strip("\x00 ")) == 6:
            text = offset.strip("\x00 ")
            sign = -1 if text[0] == "-" else 1
            delta = timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))
            return taken.replace(tzinfo=timezone(sign * delta))
        return taken.replace(tzinfo=LOCAL_TZ)
    except (KeyError, ValueError, TypeError, OSError):
        return None


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    """The EXIF GPS position in decimal degrees (WGS84, as GPS receivers record it), or ``(None, None)``."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (KeyError, ValueError, TypeError, ZeroDivisionError, OSError):
        return None, None
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None, None
    return lon, lat


def _degrees(value: object, ref: object, negative: str) -> float | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    d, m, s = (float(v) for v in value)
    result = d + m / 60 + s / 3600
    if not math.isfinite(result):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -result if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative else result


def time_flag(photo: CheckedPhoto, inspected_at: datetime, limits: PhotoLimits) -> bool:
    """Was the photo (by its own clock) taken further from the visit's time than the limit?"""
    return photo.taken_at is not None and abs(photo.taken_at - inspected_at) > limits.time_tolerance
