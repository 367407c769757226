"""Visits from phones with photos: stored exactly once, photos judged by content, flagged, served by scope."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import Engine, text

from geo_safety.api.app import create_app
from geo_safety.rules import LOCAL_TZ
from geo_safety.services import backup, users
from geo_safety.services.audit import Actor
from geo_safety.settings import Settings
from tests.conftest import auth, fresh_sample, table_checksums

SETUP = Actor("test-setup", "pytest")


@pytest.fixture(scope="module")
def sample(session_engine: Engine, data_dir: Path, settings: Settings) -> dict[str, Any]:
    """The bundled sample, four accounts, and open premises of 海城区 handed out one per use."""
    fresh_sample(session_engine, data_dir)
    tokens = {
        key: users.add_user(session_engine, settings, SETUP, f"v-{key}", role, districts).token
        for key, role, districts in (
            ("haicheng", "inspector", ("450502",)),
            ("hepu", "inspector", ("450521",)),
            ("viewer", "viewer", ()),
            ("admin", "admin", ()),
        )
    }
    with session_engine.connect() as conn:
        premises = conn.execute(
            text(
                "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM premises "
                "WHERE district_code = '450502' AND status = 'open' ORDER BY id LIMIT 60"
            )
        ).all()
        zone = conn.execute(
            text(
                "SELECT id FROM water_hazards WHERE district_code = '450502' AND deleted_at IS NULL "
                "AND NOT warning_sign ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    return {"tokens": tokens, "premises": iter([(p.id, p.lon, p.lat) for p in premises]), "zone": zone}


@pytest.fixture(scope="module")
def client(settings: Settings, sample) -> TestClient:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def jpeg(seed: int = 0, size: tuple[int, int] = (800, 600), exif: Image.Exif | None = None, fmt: str = "JPEG") -> bytes:
    """A photo-like image (noise, so every seed differs), optionally with EXIF."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt, **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def exif_of(taken: datetime, lon: float, lat: float) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")

    def dms(value: float) -> tuple[float, float, float]:
        d = int(value)
        m = int((value - d) * 60)
        return (float(d), float(m), round((value - d - m / 60) * 3600, 4))

    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef], gps[ExifTags.GPS.GPSLongitude] = "E", dms(lon)
    return exif


def visit_for(target: tuple[str, float, float], result: str = "pass", **extra: Any) -> dict[str, Any]:
    target_id, lon, lat = target
    body = {
        "client_id": str(uuid.uuid4()),
        "target_type": "premise",
        "target_id": target_id,
        "result": result,
        "findings": "现场检查",
        "checklist": [],
        "inspected_at": (datetime.now(LOCAL_TZ) - timedelta(hours=1)).replace(microsecond=0).isoformat(),
        "position": {"lon": lon, "lat": lat, "datum": "wgs84", "accuracy_m": 8},
    }
    return {**body, **extra}


def send(client: TestClient, token: str, visit: dict[str, Any] | str, photos: list[bytes] = ()) -> Any:
    """As a phone's FormData does: the visit as a text field, each photo as a file."""
    raw = visit if isinstance(visit, str) else json.dumps(visit, ensure_ascii=False)
    files = [("visit", (None, raw))] + [("photos", (f"p{n}.jpg", data, "image/jpeg")) for n, data in enumerate(photos)]
    return client.post("/api/v1/visits", headers=auth(token), files=files)


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_a_pass_and_a_fail_with_photos_keep_their_bytes(client: TestClient, sample, session_engine: Engine) -> None:
    token = sample["tokens"]["haicheng"]
    target = next(sample["premises"])
    shots = [jpeg(1), jpeg(2, (640, 480), fmt="PNG")]
    visit = visit_for(target, checklist=["未悬挂证照"])
    response = send(client, token, visit, shots)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] == visit["client_id"] and body["target_id"] == target[0]
    assert (body["result"], body["off_site"], body["distance_m"], body["flags"]) == ("pass", False, 0.0, [])
    assert [p["seq"] for p in body["photos"]] == [1, 2]
    assert body["findings"] == "☑ 未悬挂证照\n\n现场检查"
    for shot, photo in zip(shots, body["photos"], strict=True):
        full = client.get(photo["url"], headers=auth(token))
        assert full.status_code == 200 and full.content == shot
        assert full.headers["cache-control"].startswith("private")
        thumb = client.get(photo["thumb_url"], headers=auth(token))
        assert thumb.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
        again = client.get(photo["url"], headers={**auth(token), "If-None-Match": full.headers["etag"]})
        assert again.status_code == 304
    assert [p["media_type"] for p in body["photos"]] == ["image/jpeg", "image/png"]
    listed = client.get(f"/api/v1/inspections/{body['id']}/photos", headers=auth(token)).json()["photos"]
    assert [(p["width"], p["height"]) for p in listed] == [(800, 600), (640, 480)]

    failed = visit_for(next(sample["premises"]), "fail")
    response = send(client, token, failed, [jpeg(3, fmt="WEBP")])
    assert response.status_code == 201, response.text
    inspected_day = datetime.fromisoformat(failed["inspected_at"]).date()
    assert response.json()["follow_up_due"] == (inspected_day + timedelta(days=7)).isoformat()
    with session_engine.connect() as conn:
        stored = conn.execute(
            text("SELECT content, media_type FROM inspection_photos WHERE inspection_id = :id"),
            {"id": response.json()["id"]},
        ).one()
    assert stored.media_type == "image/webp" and bytes(stored.content) == jpeg(3, fmt="WEBP")


def test_a_resend_gets_the_stored_answer_and_stores_nothing(client: TestClient, sample, session_engine) -> None:
    token = sample["tokens"]["haicheng"]
    visit = visit_for(next(sample["premises"]), "closed")
    first = send(client, token, visit, [jpeg(10)])
    assert first.status_code == 201, first.text
    # the same visit again, keys in another order and the time in UTC: the same content
    again = dict(reversed(list(visit.items())))
    again["inspected_at"] = datetime.fromisoformat(visit["inspected_at"]).astimezone(UTC).isoformat()
    second = send(client, token, again, [jpeg(10)])
    assert second.status_code == 200, second.text
    assert second.json() == first.json()  # even though the premise is closed by now
    cid = visit["client_id"]
    assert count(session_engine, "SELECT count(*) FROM inspections WHERE client_id = CAST(:c AS uuid)", c=cid) == 1
    assert count(session_engine, "SELECT count(*) FROM audit_log WHERE details->>'client_id' = :c", c=cid) == 1
    assert (
        count(session_engine, "SELECT count(*) FROM inspection_photos WHERE inspection_id = :i", i=first.json()["id"])
        == 1
    )


def test_the_same_id_with_other_content_is_a_conflict(client: TestClient, sample, session_engine) -> None:
    token = sample["tokens"]["haicheng"]
    visit = visit_for(next(sample["premises"]))
    assert send(client, token, visit, [jpeg(20)]).status_code == 201
    other = send(client, token, {**visit, "result": "fail"}, [jpeg(20)])
    assert other.status_code == 409
    body = other.json()
    assert "已保存" in body["detail"] and "result" in body["detail"]
    assert (body["stored"]["result"], body["sent"]["result"]) == ("pass", "fail")
    photo = send(client, token, visit, [jpeg(21)])
    assert photo.status_code == 409 and "photo_sha256" in photo.json()["detail"]
    findings = send(client, token, {**visit, "findings": "另一个"}, [jpeg(20)])
    assert findings.status_code == 409 and "findings" in findings.json()["detail"]
    cid = visit["client_id"]
    assert count(session_engine, "SELECT count(*) FROM inspections WHERE client_id = CAST(:c AS uuid)", c=cid) == 1


def test_fifty_racing_sends_store_one_visit(client: TestClient, sample, session_engine) -> None:
    token = sample["tokens"]["haicheng"]
    visit = visit_for(next(sample["premises"]), "fail")
    shots = [jpeg(30), jpeg(31)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: send(client, token, visit, shots), range(50)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], {r.status_code: r.text for r in responses}
    assert len({json.dumps(r.json(), sort_keys=True) for r in responses}) == 1
    cid = visit["client_id"]
    assert count(session_engine, "SELECT count(*) FROM inspections WHERE client_id = CAST(:c AS uuid)", c=cid) == 1
    assert count(session_engine, "SELECT count(*) FROM audit_log WHERE details->>'client_id' = :c", c=cid) == 1
    assert (
        count(
            session_engine,
            "SELECT count(*) FROM inspection_photos WHERE inspection_id = :i",
            i=responses[0].json()["id"],
        )
        == 2
    )


def _huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny file whose header claims ten billion pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 0, 0)).save(out, "GIF")
    return out.getvalue()


BAD_PHOTOS = {
    "gif": (_gif, 422, "不是 JPEG/PNG/WebP 图片 (GIF)"),
    "text": (lambda: "这不是照片 not a photo\n".encode() * 40, 422, "photo 2 is not a JPEG, PNG or WebP image"),
    "truncated": (lambda: jpeg(40)[: len(jpeg(40)) // 2], 422, "photo 2 is truncated or damaged"),
    "bomb": (_huge_png, 422, "photo 2 has"),
    "empty": (lambda: b"", 422, "photo 2 is empty"),
}


@pytest.mark.parametrize("kind", list(BAD_PHOTOS))
def test_a_bad_photo_refuses_the_visit_and_stores_nothing(client: TestClient, sample, session_engine, kind) -> None:
    make, status, reason = BAD_PHOTOS[kind]
    before = table_checksums(session_engine)
    response = send(client, sample["tokens"]["haicheng"], visit_for(next(sample["premises"])), [jpeg(41), make()])
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"] and "第2张照片" in response.json()["detail"]
    assert table_checksums(session_engine) == before


def test_photo_size_and_pixel_limits(settings: Settings, sample, session_engine) -> None:
    strict = settings.model_copy(update={"max_photo_mb": 1, "max_photo_megapixels": 1})
    before = table_checksums(session_engine)
    with TestClient(create_app(strict)) as small:
        token = sample["tokens"]["haicheng"]
        big = send(small, token, visit_for(next(sample["premises"])), [jpeg(50, (1400, 1000), fmt="PNG")])
        assert big.status_code == 413 and "photo 1" in big.json()["detail"] and "1 MB" in big.json()["detail"]
        plain = io.BytesIO()
        Image.new("RGB", (1200, 900), (90, 140, 60)).save(plain, "JPEG")
        many = send(small, token, visit_for(next(sample["premises"])), [plain.getvalue()])
        assert many.status_code == 422 and "1200×900 pixels" in many.json()["detail"]
    assert table_checksums(session_engine) == before


def test_photo_time_and_position_disagreeing_are_flagged(client: TestClient, sample, session_engine) -> None:
    token = sample["tokens"]["haicheng"]
    target = next(sample["premises"])
    visit = visit_for(target)
    at = datetime.fromisoformat(visit["inspected_at"]).astimezone(LOCAL_TZ)
    here = jpeg(60, exif=exif_of(at - timedelta(minutes=5), target[1], target[2]))
    elsewhere = jpeg(61, exif=exif_of(at - timedelta(days=2), 109.57, 21.62))  # two days earlier, in 合浦县
    response = send(client, token, visit, [here, elsewhere])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["photos"][0]["flags"] == []
    assert body["photos"][1]["flags"] == ["photo_time_mismatch", "photo_position_mismatch"]
    assert set(body["flags"]) == {"photo_time_mismatch", "photo_position_mismatch"}
    assert any("拍摄时间" in w for w in body["warnings"])
    assert body["photos"][0]["taken_at"].startswith((at - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))


def test_only_those_who_see_the_district_see_the_photos(client: TestClient, sample) -> None:
    tokens = sample["tokens"]
    target = next(sample["premises"])
    stored = send(client, tokens["haicheng"], visit_for(target), [jpeg(70)]).json()
    photo = stored["photos"][0]
    urls = [f"/api/v1/inspections/{stored['id']}/photos", photo["url"], photo["thumb_url"]]
    for url in urls:
        assert client.get(url, headers=auth(tokens["haicheng"])).status_code == 200
        assert client.get(url, headers=auth(tokens["viewer"])).status_code == 200
        assert client.get(url, headers=auth(tokens["admin"])).status_code == 200
        refused = client.get(url, headers=auth(tokens["hepu"]))  # as if it did not exist: nothing revealed
        assert refused.status_code == 404 and "您的辖区内没有" in refused.json()["detail"]
        assert target[0] not in refused.text
        assert client.get(url).status_code == 401
    missing = client.get("/api/v1/inspections/999999999/photos", headers=auth(tokens["hepu"]))
    hidden = client.get(f"/api/v1/inspections/{stored['id']}/photos", headers=auth(tokens["hepu"]))
    assert missing.status_code == 404 and hidden.json()["detail"] == missing.json()["detail"].replace(
        "999999999", str(stored["id"])
    )
    assert client.get(f"/api/v1/inspections/{stored['id']}/photos/5", headers=auth(tokens["admin"])).status_code == 404
    history = client.get(f"/api/v1/inspections?target_id={target[0]}", headers=auth(tokens["haicheng"]))
    assert history.status_code == 200
    visit = next(v for v in history.json()["visits"] if v["id"] == stored["id"])
    assert visit["photos"][0]["thumb_url"] == photo["thumb_url"]
    assert client.get(f"/api/v1/inspections?target_id={target[0]}", headers=auth(tokens["hepu"])).status_code == 404
    mine = client.get("/api/v1/inspections?since=2000-01-01", headers=auth(tokens["hepu"])).json()["visits"]
    assert all(v["target_id"] != target[0] for v in mine)


def test_refusals_carry_a_reason_the_phone_can_show(client: TestClient, sample, session_engine) -> None:
    tokens = sample["tokens"]
    before = count(session_engine, "SELECT count(*) FROM inspections")
    target = next(sample["premises"])
    cases = [
        (tokens["haicheng"], visit_for(("NOPE", target[1], target[2])), 404, "找不到检查对象"),
        (tokens["hepu"], visit_for(target), (403, 404), "您的辖区"),
        (tokens["viewer"], visit_for(target), 403, "may not inspect"),
        (tokens["haicheng"], {**visit_for(target), "inspected_at": "2026-05-01T09:30:00"}, 422, "offset"),
        (tokens["haicheng"], {**visit_for(target), "result": "excellent"}, 422, "result"),
        (tokens["haicheng"], {**visit_for(target), "extra": 1}, 422, "extra"),
        (tokens["haicheng"], {**visit_for(target), "measures": {"warning_sign": True}}, 422, "measures"),
        (tokens["haicheng"], "{not json", 422, "json"),
    ]
    for token, visit, status, reason in cases:
        response = send(client, token, visit)
        assert response.status_code in (status if isinstance(status, tuple) else (status,)), (visit, response.text)
        assert reason in response.text.lower() or reason in response.text, response.text
    too_many = send(client, tokens["haicheng"], visit_for(target), [jpeg(n, (64, 48)) for n in range(9)])
    assert too_many.status_code == 422 and "最多 8 张照片" in too_many.json()["detail"]
    typo = client.post(
        "/api/v1/visits",
        headers=auth(tokens["haicheng"]),
        files=[("visit", (None, json.dumps(visit_for(target)))), ("photo", ("a.jpg", jpeg(1), "image/jpeg"))],
    )
    assert typo.status_code == 422 and "photo" in typo.json()["detail"]
    assert count(session_engine, "SELECT count(*) FROM inspections") == before
    # a premise closed meanwhile (by another visit) refuses later visits, saying so
    assert send(client, tokens["haicheng"], visit_for(target, "closed")).status_code == 201
    late = send(client, tokens["admin"], visit_for(target, "pass"))
    assert late.status_code == 409 and "已关闭" in late.json()["detail"] and "closed" in late.json()["detail"]


def test_a_zone_check_updates_its_measures(client: TestClient, sample, session_engine) -> None:
    zone = sample["zone"]
    with session_engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM water_hazards WHERE id = :z"
            ),
            {"z": zone},
        ).one()
    visit = visit_for((zone, lon, lat), target_type="water_hazard", measures={"warning_sign": True})
    response = send(client, sample["tokens"]["haicheng"], visit, [jpeg(80)])
    assert response.status_code == 201, response.text
    assert response.json()["distance_m"] == 0.0
    assert count(session_engine, "SELECT count(*) FROM water_hazards WHERE id = :z AND warning_sign", z=zone) == 1


def test_the_json_endpoint_still_records(client: TestClient, sample) -> None:
    target = next(sample["premises"])
    response = client.post(
        "/api/v1/inspections",
        headers=auth(sample["tokens"]["haicheng"]),
        json={
            "target_id": target[0],
            "result": "pass",
            "position": {"lon": target[1], "lat": target[2], "datum": "wgs84"},
        },
    )
    assert response.status_code == 201, response.text


def test_a_visit_without_photos_may_come_as_plain_json(client: TestClient, sample) -> None:
    token = sample["tokens"]["haicheng"]
    visit = visit_for(next(sample["premises"]))
    first = client.post("/api/v1/visits", headers=auth(token), json=visit)
    assert first.status_code == 201 and first.json()["photos"] == []
    assert send(client, token, visit).status_code == 200  # the same visit as a form: the same content
    garbled = client.post(
        "/api/v1/visits", headers={**auth(token), "Content-Type": "application/json"}, content=b"!\xa0\xd1JF\xb2."
    )
    assert garbled.status_code == 422
    form = client.post("/api/v1/visits", headers=auth(token), data={"visit": json.dumps(visit)})
    assert form.status_code == 422 and "multipart/form-data" in form.json()["detail"]


def test_backup_and_restore_keep_the_photos(
    client: TestClient, sample, session_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Runs last in this module: the restore disconnects the module's sessions (they reconnect)."""
    shot = jpeg(90, (1024, 768))
    stored = send(client, sample["tokens"]["haicheng"], visit_for(next(sample["premises"])), [shot]).json()
    before = table_checksums(session_engine)
    dump = backup.backup(settings, tmp_path / "photos.dump")
    with session_engine.begin() as conn:
        conn.execute(text("DELETE FROM inspection_photos"))
    session_engine.dispose()
    backup.restore(settings, dump, force=True)
    assert table_checksums(session_engine) == before
    again = client.get(stored["photos"][0]["url"], headers=auth(sample["tokens"]["haicheng"]))
    assert again.status_code == 200 and again.content == shot


def test_a_visit_with_photos_may_exceed_the_json_body_limit(client: TestClient, sample, settings: Settings) -> None:
    """Two 7.7 MB photos (15 MB, over the 10 MB JSON limit, each under the photo limit) are one visit, not a 413."""
    rng = np.random.default_rng(7)
    shots = []
    for _ in range(2):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (1600, 1600, 3), dtype=np.uint8)).save(buffer, "PNG")
        shots.append(buffer.getvalue())
    assert sum(map(len, shots)) > settings.max_body_mb * 1024 * 1024
    assert all(len(s) < settings.max_photo_mb * 1024 * 1024 for s in shots)
    response = send(client, sample["tokens"]["haicheng"], visit_for(next(sample["premises"])), shots)
    assert response.status_code == 201, response.text
    assert len(response.json()["photos"]) == 2
