"""The OpenAPI document is a contract a client can generate types from: every JSON success answer has a schema
with named, typed properties (no free-form object), operation ids are unique, the document is valid OpenAPI; and
the bodies the services build fit the response models exactly (no key dropped, none unknown). No database."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError

from geo_safety.api import routers
from geo_safety.api.app import create_app
from geo_safety.api.schemas import CalendarError, CalendarStatus, Health, ProgrammeReport
from geo_safety.api.schemas_features import DueCollection, DueFeature, TodayRoute
from geo_safety.api.schemas_geojson import absent_or
from geo_safety.keyperiods import load_calendar
from geo_safety.services import health, inspections
from geo_safety.settings import Settings

#: (component, property) whose value is an open object by nature, each with its reason in the model's docstring
OPEN_BY_NATURE = {
    ("OgcProperties", None),  # one OGC route serves every collection; typed per layer under /api/v1
    ("ZoneSnapshot", None),  # history entries keep the columns of their day
    ("AuditOut", "details"),  # each audited action records its own details
    ("MapFeature", "properties"),  # a map layer's popup fields and _style keys differ per layer
    ("MapLayer", "style"),  # Leaflet's path or heat options, passed through to the page
}
#: free-form places still to be typed by their owners; an entry that is typed meanwhile must leave this list
PENDING = {
    ("MapFeature", "geometry"),  # the map data endpoints (issue 17): schemas_geojson.Geometry would fit
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings(database_url="postgresql://nobody@127.0.0.1/none")).openapi()


def _json_like(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def free_form(schema: dict[str, Any], components: dict[str, Any], where: str = "", seen: frozenset = frozenset()):
    """Places under ``schema`` that leave the shape open: an empty schema, or an object without properties or with
    ``additionalProperties`` allowed (other than ``OPEN_BY_NATURE``)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return free_form(components[name], components, name, seen | {name})
    found = []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += free_form(part, components, where, seen)
    if any(key in schema for key in ("anyOf", "oneOf", "allOf", "const", "enum")):
        return found
    kind = schema.get("type")
    if kind is None:
        return [where or "(inline)"]
    if kind == "array":
        return found + free_form(schema.get("items", {}), components, where, seen)
    if kind != "object":
        return found
    component = where.split(".")[0]
    if (component, None) in OPEN_BY_NATURE | PENDING:
        return found
    if schema.get("additionalProperties", False) not in (False, None) or not schema.get("properties"):
        found.append(where or "(inline object)")
    for name, sub in schema.get("properties", {}).items():
        if (component, name) in OPEN_BY_NATURE | PENDING:
            continue
        found += free_form(sub, components, f"{component}.{name}", seen)
    return found


def test_the_checker_finds_free_form_bodies() -> None:
    components = {"Typed": {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}}
    assert free_form({"$ref": "#/components/schemas/Typed"}, components) == []
    assert free_form({"type": "array", "items": {"$ref": "#/components/schemas/Typed"}}, components) == []
    assert free_form({}, components) == ["(inline)"]
    assert free_form({"type": "object", "additionalProperties": True}, components) == ["(inline object)"]
    nested = {"type": "object", "properties": {"x": {"type": "object"}}, "additionalProperties": False}
    assert free_form(nested, {"Outer": nested} | components, "Outer") == ["Outer.x"]


def test_every_json_success_answer_has_a_typed_schema(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    problems = []
    json_answers = 0
    for name, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, content in response.get("content", {}).items():
                if not _json_like(media_type):
                    continue
                json_answers += 1
                schema = content.get("schema")
                if not schema:
                    problems.append(f"{name} {status} {media_type}: no schema")
                    continue
                problems += [f"{name} {status} {media_type}: {place}" for place in free_form(schema, components)]
    assert json_answers >= 30
    assert problems == []


def test_pending_places_are_still_free_form(spec: dict[str, Any]) -> None:
    components = spec["components"]["schemas"]
    for component, name in PENDING:
        schema = components[component]["properties"][name]
        assert schema.get("additionalProperties") is True and "properties" not in schema, (component, name)


def test_json_success_answers_forbid_unknown_keys(spec: dict[str, Any]) -> None:
    """A generated client may trust its types: answers say ``additionalProperties: false`` (open ones excepted)."""
    components = spec["components"]["schemas"]
    for name in ("DueCollection", "DueProperties", "HotspotProperties", "ZoneProperties", "Health", "StoredVisit"):
        assert components[name]["additionalProperties"] is False, name
    due = components["DueProperties"]
    assert set(due["required"]) == set(due["properties"])  # every key always sent, null where nullable
    assert due["properties"]["address"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert due["properties"]["priority"]["type"] == "integer"


def test_errors_are_documented_as_json_problems(spec: dict[str, Any]) -> None:
    for name, operation in _operations(spec):
        if name.startswith("GET /maps/"):
            continue  # the map pages (HTML) document their errors in their own media type
        for status in ("401", "403", "404", "409", "422", "429"):
            content = operation["responses"][status]["content"]
            assert "application/json" in content, (name, status)
            assert set(content) == {"application/json"}, (name, status)


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]


def _has_absent_keys(model: type[BaseModel], seen: set[type] | None = None) -> bool:
    """``model`` or a model inside it has a key sent only sometimes (``absent_or``)."""
    seen = seen if seen is not None else set()
    if model in seen:
        return False
    seen.add(model)
    marker = absent_or().json_schema_extra
    for field in model.model_fields.values():
        if field.json_schema_extra is marker:
            return True
        if any(_has_absent_keys(inner, seen) for inner in _models(field.annotation)):
            return True
    return False


def test_routes_with_sometimes_absent_keys_leave_them_absent() -> None:
    """Without ``response_model_exclude_unset`` such a key would be sent as ``null``, against its schema."""
    names = [m.name for m in pkgutil.iter_modules(routers.__path__)]
    modules = [importlib.import_module(f"geo_safety.api.routers.{name}") for name in names]
    routes = [
        r
        for module in modules
        for r in getattr(module, "router", APIRouter()).routes
        if isinstance(r, APIRoute) and r.response_model is not None
    ]
    needing = [r for r in routes if any(_has_absent_keys(m) for m in _models(r.response_model))]
    assert {r.path for r in needing} >= {"/health", "/collections", "/api/v1/hazards/{hazard_id}"}
    assert [r.path for r in needing if not r.response_model_exclude_unset] == []


def test_operation_ids_are_unique(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, operation in _operations(spec)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="in the dev extras")
    validator.validate(spec)
    assert spec["openapi"].startswith("3.1")


# -- the services' bodies against the models, without a database -----------------------------------------------
def _due_row(**changes: Any) -> SimpleNamespace:
    row = {
        "target_type": "premise",
        "id": "P-1",
        "name": "网吧",
        "category": "internet_cafe",
        "address": None,
        "district_code": "450502",
        "reason": "overdue",
        "violation": True,
        "school_id": "S-1",
        "school_name": "小学",
        "distance_m": 120.456,
        "rule_m": 200,
        "last_on": date(2026, 3, 1),
        "days_overdue": 4,
        "lon": 109.12,
        "lat": 21,
    }
    return SimpleNamespace(**{**row, **changes})


def test_a_due_feature_fits_its_model_key_for_key() -> None:
    feature = inspections._feature(_due_row(), 7)
    parsed = DueFeature.model_validate(feature)
    assert parsed.model_dump(mode="json", exclude_unset=True) == feature
    assert parsed.geometry.coordinates == [109.12, 21]  # an integer stays an integer
    with pytest.raises(ValidationError, match="extra"):
        DueFeature.model_validate({**feature, "properties": {**feature["properties"], "surprise": 1}})
    without = {k: v for k, v in feature["properties"].items() if k != "days_overdue"}
    with pytest.raises(ValidationError, match="days_overdue"):
        DueFeature.model_validate({**feature, "properties": without})


def test_a_planned_route_fits_its_model() -> None:
    collection = {
        "type": "FeatureCollection",
        "date": "2026-03-05",
        "numberMatched": 2,
        "numberReturned": 2,
        "features": [inspections._feature(_due_row(id=f"P-{n}", lon=109.1 + n / 100), n) for n in (1, 2)],
    }
    due = DueCollection.model_validate(collection)
    plan = inspections.plan_from(due, 2, start=(109.0, 21.0))
    body = plan.model_dump(mode="json", exclude_unset=True)
    assert TodayRoute.model_validate(body).model_dump(mode="json", exclude_unset=True) == body
    assert [f.properties.route_order for f in plan.features] == [1, 2]
    assert due.model_dump(mode="json", exclude_unset=True) == collection  # the due list is left as it was


def test_health_answers_fit_their_model() -> None:
    calendar = load_calendar()
    status = health.calendar_status(calendar, date(2026, 5, 1))
    assert CalendarStatus.model_validate(status).model_dump(mode="json") == status
    anonymous = Health.model_validate({"status": "ok"})
    assert anonymous.model_dump(mode="json", exclude_unset=True) == {"status": "ok"}
    broken = {"status": "error", "message": "calendar file unreadable"}
    assert CalendarError.model_validate(broken).model_dump(mode="json") == broken


def test_the_programme_report_keeps_from_and_to() -> None:
    row = dict.fromkeys(
        (
            "premise_inspections",
            "zone_inspections",
            "premises_inspected",
            "violations_found",
            "violations_closed",
            "failures",
            "failures_rechecked_on_time",
            "schools",
            "schools_compliant",
            "students",
            "unguarded_zones",
            "zones_became_guarded",
            "students_near_unguarded",
        ),
        0,
    )
    body = {
        "from": "2026-01-01",
        "to": "2026-03-31",
        "districts": [{"district_code": "450502", "name": "海城区", **row, "schools_compliant_pct": None}],
        "total": {"district_code": None, "name": "合计 total", **row, "schools_compliant_pct": None},
        "provisional": False,
        "calendar_notice": None,
    }
    assert ProgrammeReport.model_validate(body).model_dump(mode="json", by_alias=True) == body
