"""JSON endpoints: what the charts and the live updates fetch, and the same data for scripts. Every answer is
``{"database": {...}, ...}``; a database that is down answers 503 with its reason, one without tables answers empty.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import Connection, func, select

from ..store.tables import TrainingJobRow
from .context import CONFIG, DB
from .database import DatabaseDown, SchemaMissing
from .pages import UID_PATTERN
from .queries import comparisons, models, overview, training

T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, default=_default), status=status, content_type="application/json")


def count_jobs(connection: Connection) -> int:
    return int(connection.execute(select(func.count()).select_from(TrainingJobRow)).scalar() or 0)


async def _answer(request: web.Request, fn: Callable[[Connection], T], key: str,
                  empty: Any = None) -> web.Response:
    db = request.app[DB]
    try:
        value = await db.read(fn)
    except SchemaMissing:
        return _json({"database": {"up": True, "schema": False}, key: empty})
    except DatabaseDown as e:
        return _json({"database": {"up": False, "message": str(e)}, key: empty}, status=503)
    if value is None and empty is None:
        return _json({"database": {"up": True}, "error": "not found"}, status=404)
    return _json({"database": {"up": True}, key: value})


async def status(request: web.Request) -> web.Response:
    health = await request.app[DB].ping()
    return _json({"database": {"up": health.up, "where": health.where, "message": health.message},
                  "actions": request.app[CONFIG].actions})


async def overview_api(request: web.Request) -> web.Response:
    return await _answer(request, overview.overview, "overview")


async def runs_api(request: web.Request) -> web.Response:
    chosen = {name: request.query.get(name) or None for name in ("namespace", "phase", "model")}
    return await _answer(request, lambda c: training.list_runs(c, chosen["namespace"], chosen["phase"],
                                                               chosen["model"]), "runs", [])


async def run_api(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    return await _answer(request, lambda c: training.get_run(c, uid), "run")


async def curves_api(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    try:
        points = min(20_000, max(4, int(request.query.get("points", training.MAX_POINTS))))
    except ValueError:
        return _json({"error": "points: an integer"}, status=400)
    return await _answer(request, lambda c: training.curves(c, uid, points), "curves")


async def models_api(request: web.Request) -> web.Response:
    return await _answer(request, lambda c: models.list_groups(c, request.query.get("namespace") or None),
                         "models", [])


async def model_api(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    return await _answer(request, lambda c: models.get_model(c, uid), "model")


async def comparisons_api(request: web.Request) -> web.Response:
    return await _answer(request, lambda c: comparisons.list_comparisons(c, request.query.get("namespace") or None),
                         "comparisons", [])


async def comparison_api(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]

    def read(connection: Connection) -> Any:
        found = comparisons.get_comparison(connection, uid)
        if found is None:
            return None
        comparison, _ = found
        return {"comparison": comparison, "latencyChart": comparisons.latency_chart(comparison.results),
                "winRate": comparisons.win_rate_chart(comparison.results)}

    return await _answer(request, read, "comparison")


async def samples_api(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    only = request.query.get("disagreements") in ("1", "true", "on")
    try:
        offset = max(0, int(request.query.get("offset", "0")))
        limit = min(200, max(1, int(request.query.get("limit", str(comparisons.SAMPLES_PAGE)))))
    except ValueError:
        return _json({"error": "offset and limit: integers"}, status=400)
    return await _answer(request, lambda c: comparisons.samples(c, uid, only, offset, limit), "samples")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/status", status)
    router.add_get("/api/overview", overview_api)
    router.add_get("/api/runs", runs_api)
    router.add_get(f"/api/runs/{UID_PATTERN}", run_api)
    router.add_get(f"/api/runs/{UID_PATTERN}/curves", curves_api)
    router.add_get("/api/models", models_api)
    router.add_get(f"/api/models/{UID_PATTERN}", model_api)
    router.add_get("/api/comparisons", comparisons_api)
    router.add_get(f"/api/comparisons/{UID_PATTERN}", comparison_api)
    router.add_get(f"/api/comparisons/{UID_PATTERN}/samples", samples_api)
