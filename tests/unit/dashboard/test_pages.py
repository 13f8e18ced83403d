"""The pages and JSON endpoints over a SQLite mirror the store's writer filled (no cluster): what each shows, the
down-sampled curve, the samples filter, empty states, and that nothing can write the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from mirror_seed import SPIKE_STEP, STEPS
from sqlalchemy import text

from kubetune.dashboard.app import make_app
from kubetune.dashboard.context import DashboardConfig
from kubetune.dashboard.database import ReadOnlyDatabase


async def client_for(url: str, **config: object) -> TestClient:
    client = TestClient(TestServer(make_app(DashboardConfig(database_url=url, **config))))
    await client.start_server()
    return client


@pytest.fixture
async def client(seeded: tuple[str, dict[str, str]]) -> AsyncIterator[TestClient]:
    c = await client_for(seeded[0])
    yield c
    await c.close()


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, body[:2000]
    return body


async def test_overview(client: TestClient) -> None:
    html = await page(client, "/")
    assert "ml/support-bot-2" in html and "2m10s" in html  # the running job, with its ETA
    assert 'value="20.0"' in html  # its progress bar
    assert "ml/support-bot-v1" in html and "bot-vs-base" not in html  # models serving; verdicts by models
    assert "support-bot-v1 vs tiny-llama" in html and "75.0%" in html


async def test_runs_list_and_filters(client: TestClient) -> None:
    html = await page(client, "/runs")
    assert all(f"ml/{name}" in html for name in ("support-bot", "support-bot-2", "bad-data"))
    failed = await page(client, "/runs?phase=Failed")
    assert "ml/bad-data" in failed and "ml/support-bot-2" not in failed
    assert "No training run matches" in await page(client, "/runs?namespace=elsewhere")


async def test_a_run_with_its_rejected_lines_and_model(client: TestClient,
                                                       seeded: tuple[str, dict[str, str]]) -> None:
    ids = seeded[1]
    html = await page(client, f"/runs/{ids['run']}")
    assert f'href="/models/{ids["model"]}"' in html and "4,100" in html
    assert "Events are not available" in html
    bad = await page(client, f"/runs/{ids['failed']}")
    assert "line 3: messages: empty" in bad and "line 7: role: unknown role &#39;robot&#39;" in bad
    await page(client, "/runs/nope", status=404)


async def test_the_curve_is_down_sampled_and_keeps_the_spike(client: TestClient,
                                                             seeded: tuple[str, dict[str, str]]) -> None:
    response = await client.get(f"/api/runs/{seeded[1]['run']}/curves")
    curves = (await response.json())["curves"]
    assert curves["logged_steps"] == STEPS and curves["downsampled"] and curves["last_step"] == STEPS
    loss = curves["series"]["loss"]
    assert len(loss) <= 2000 and loss[0][0] == 1 and loss[-1][0] == STEPS
    assert [SPIKE_STEP, 9.0] in loss
    assert len(curves["series"]["eval_loss"]) == STEPS // 500  # few points: all of them
    small = await (await client.get(f"/api/runs/{seeded[1]['run']}/curves?points=100")).json()
    assert len(small["curves"]["series"]["loss"]) <= 100


async def test_models_and_a_version(client: TestClient, seeded: tuple[str, dict[str, str]]) -> None:
    html = await page(client, "/models")
    assert "support-bot-v1" in html and "2/2" in html
    detail = await page(client, f"/models/{seeded[1]['model']}")
    assert f'href="/runs/{seeded[1]["run"]}"' in detail and "vllm-a" in detail and "127.1.0.3" in detail
    assert "load</strong> on <code>vllm-b</code>" in detail and "41.5 ms" in detail
    assert f'href="/comparisons/{seeded[1]["comparison"]}"' in detail


async def test_a_comparison_and_the_disagreement_filter(client: TestClient,
                                                        seeded: tuple[str, dict[str, str]]) -> None:
    uid = seeded[1]["comparison"]
    html = await page(client, f"/comparisons/{uid}")
    assert "CandidateBetter" in html and "the candidate won 75% of pairs" in html and html.count('class="sample') == 4
    # Sample 2: the judge's two verdicts, each named by the model it preferred.
    assert "first: candidate</span>, <span class=\"judge-verdict\">swapped: baseline</span>" in html
    only = await page(client, f"/comparisons/{uid}?disagreements=1")
    assert only.count('class="sample') == 1 and 'data-index="2"' in only
    data = await (await client.get(f"/api/comparisons/{uid}")).json()
    chart = data["comparison"]["latencyChart"]
    assert chart["labels"] == ["TTFT p50", "TTFT p95", "TTFT p99", "Latency p50", "Latency p95", "Latency p99"]
    assert chart["datasets"][1] == {"label": "candidate", "data": [12.0, 22.0, 33.0, 110.0, 160.0, 200.0]}
    assert data["comparison"]["winRate"]["ci95"] == [0.6, 0.86]
    samples = await (await client.get(f"/api/comparisons/{uid}/samples?disagreements=1")).json()
    assert samples["samples"]["total"] == 1 and samples["samples"]["all_samples"] == 4


async def test_an_empty_or_missing_mirror_is_friendly(tmp_path: Path) -> None:
    client = await client_for(f"sqlite:///{tmp_path / 'none' / 'kubetune.db'}")
    try:
        html = await page(client, "/")
        assert "Nothing has been mirrored yet" in html and 'id="banner"' in html and "hidden" in html
        assert "No training runs yet" in await page(client, "/runs") or "no tables" in await page(client, "/runs")
        assert (await client.get("/readyz")).status == 503
        assert not (tmp_path / "none").exists(), "the dashboard created the database"
    finally:
        await client.close()


def test_the_dashboard_cannot_write(seeded: tuple[str, dict[str, str]]) -> None:
    db = ReadOnlyDatabase(seeded[0])
    try:
        with pytest.raises(Exception, match=r"readonly|read-only|attempt to write"):
            db.read_sync(lambda c: c.execute(text("delete from training_jobs")))
        assert db.read_sync(lambda c: c.execute(text("select count(*) from training_jobs")).scalar()) == 3
    finally:
        db.close()


async def test_security_headers_and_the_served_chart_library(client: TestClient) -> None:
    response = await client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    html = await response.text()
    assert "/static/vendor/chart.umd.min.js" in html and "http" not in html.split("<body")[0].replace(
        'content="width', "")
    script = await client.get("/static/vendor/chart.umd.min.js")
    assert script.status == 200 and "Chart.js v" in (await script.text())[:200]
