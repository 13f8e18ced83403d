"""The HTML pages: overview, training runs (list and one run), models (versions per name and one version),
comparisons (list and one, with its samples). Each reads the mirror once through ``load``: a database that is down
renders the page's empty shape under the banner, and one without tables yet renders the friendly empty state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import Connection

from .context import CLUSTER, DB, render
from .database import DatabaseDown, SchemaMissing
from .queries import comparisons, models, overview, training

T = TypeVar("T")
UID_PATTERN = "{uid:[A-Za-z0-9-]{1,64}}"


@dataclass(frozen=True)
class Loaded:
    value: Any
    down: str | None = None
    """Why the database could not be read (the banner says it too)."""
    no_schema: bool = False


async def load(request: web.Request, fn: Callable[[Connection], T]) -> Loaded:
    try:
        return Loaded(await request.app[DB].read(fn))
    except SchemaMissing:
        return Loaded(None, no_schema=True)
    except DatabaseDown as e:
        return Loaded(None, down=str(e))


def _filter(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


def _page_number(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("page", "1")))
    except ValueError:
        return 1


async def overview_page(request: web.Request) -> web.Response:
    loaded = await load(request, overview.overview)
    return render(request, "overview.html", title="Overview", data=loaded.value, loaded=loaded)


async def runs_page(request: web.Request) -> web.Response:
    chosen = {name: _filter(request, name) for name in ("namespace", "phase", "model")}

    def read(connection: Connection) -> tuple[list[training.Run], training.Filters]:
        runs = training.list_runs(connection, chosen["namespace"], chosen["phase"], chosen["model"])
        return runs, training.filters(connection)

    loaded = await load(request, read)
    runs, options = loaded.value if loaded.value else ([], training.Filters([], [], []))
    return render(request, "runs.html", title="Training runs", runs=runs, options=options, chosen=chosen,
                  loaded=loaded)


async def run_page(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    loaded = await load(request, lambda c: training.get_run(c, uid))
    if loaded.value is None and not loaded.down and not loaded.no_schema:
        return render(request, "not_found.html", status=404, title="Not found", what=f"training run {uid}")
    detail: training.RunDetail | None = loaded.value
    events = await request.app[CLUSTER].events_for(detail.run.namespace, uid) if detail else None
    return render(request, "run.html", title=f"Run {detail.run.name}" if detail else "Run", detail=detail,
                  events=events, loaded=loaded, uid=uid)


async def models_page(request: web.Request) -> web.Response:
    namespace = _filter(request, "namespace")
    loaded = await load(request, lambda c: models.list_groups(c, namespace))
    return render(request, "models.html", title="Models", groups=loaded.value or [], loaded=loaded,
                  namespace=namespace)


async def model_page(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    loaded = await load(request, lambda c: models.get_model(c, uid))
    if loaded.value is None and not loaded.down and not loaded.no_schema:
        return render(request, "not_found.html", status=404, title="Not found", what=f"model {uid}")
    detail: models.ModelDetail | None = loaded.value
    return render(request, "model.html", title=f"Model {detail.version.name}" if detail else "Model",
                  detail=detail, loaded=loaded)


async def comparisons_page(request: web.Request) -> web.Response:
    namespace = _filter(request, "namespace")
    loaded = await load(request, lambda c: comparisons.list_comparisons(c, namespace))
    return render(request, "comparisons.html", title="Comparisons", items=loaded.value or [], loaded=loaded)


async def comparison_page(request: web.Request) -> web.Response:
    uid = request.match_info["uid"]
    only = request.query.get("disagreements") in ("1", "on", "true")
    page = _page_number(request)

    def read(connection: Connection) -> Any:
        found = comparisons.get_comparison(connection, uid)
        if found is None:
            return None
        offset = (page - 1) * comparisons.SAMPLES_PAGE
        return found, comparisons.samples(connection, uid, only, offset)

    loaded = await load(request, read)
    if loaded.value is None and not loaded.down and not loaded.no_schema:
        return render(request, "not_found.html", status=404, title="Not found", what=f"comparison {uid}")
    comparison, links, samples = (loaded.value[0][0], loaded.value[0][1], loaded.value[1]) if loaded.value else (
        None, {}, None)
    return render(request, "comparison.html", title=f"Comparison {comparison.name}" if comparison else "Comparison",
                  comparison=comparison, links=links, samples=samples, only_disagreements=only, page=page,
                  loaded=loaded, metrics=comparisons.QUALITY, latencies=comparisons.LATENCIES,
                  percentiles=comparisons.PERCENTILES)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", overview_page, name="overview")
    router.add_get("/runs", runs_page, name="runs")
    router.add_get(f"/runs/{UID_PATTERN}", run_page, name="run")
    router.add_get("/models", models_page, name="models")
    router.add_get(f"/models/{UID_PATTERN}", model_page, name="model")
    router.add_get("/comparisons", comparisons_page, name="comparisons")
    router.add_get(f"/comparisons/{UID_PATTERN}", comparison_page, name="comparison")
