"""The dashboard in headless Chromium, against `kubetune dashboard` reading the session operator's real Postgres mirror,
seeded by a real run on the local cluster: a TrainingJob trained by the operator and hot-loaded into a vLLM (CPU)
Deployment, and a comparison of it with its base by the real evaluator (a process against that vLLM, judged by the
base model with position swap), carried out by the operator's evaluator pod and mirrored with every sample.

Every page renders its data (visible text, and the numbers inside Chart.js), a run's curve grows while its page is
open, the samples filter works, each action creates or patches its object (as the dashboard's own ServiceAccount,
with the chart's RBAC) and the operator carries it out; an empty database gets friendly empty states, and a database
that goes down gets a banner the page recovers from. The pages' screenshots go to docs/images/.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kubetune.store import upgrade
from kubetune_devcluster import vllm_server
from kubetune_devcluster.controlplane import LocalCluster
from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.postgres import PostgresServer, start_postgres
from kubetune_devcluster.tinymodel import TinyModelSpec, build_tiny_model
from kubetune_devcluster.waiting import wait_for

from .conftest import BASE_MODEL_NAME, E2E_PREFIX, create_claim, memorisation_rows, training_job
from .dashboard_harness import (
    DESKTOP,
    PHONE,
    DashboardProcess,
    chart_data,
    chromium,
    dashboard_kubeconfig,
    screenshot,
)
from .helpers import GROUP_VERSION, ftm_path, get_tj, mc_path, tj_path, wait_mc, wait_phase

pytestmark = [pytest.mark.cluster, pytest.mark.vllm, pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.timeout(1800)]
Json = dict[str, Any]
CONTEXT = 1024  # the judge's prompt holds a question and two answers
JOB = "support-bot"
MODEL = "support-bot-v1"


@dataclass
class Site:
    namespace: str
    dashboard: DashboardProcess
    token: str
    work: Path
    database: str


@pytest.fixture(scope="module")
def site(cluster: LocalCluster, kube: KubeREST, operator: OperatorProcess, mirror_database: str,
         postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A namespace with a 1-replica vLLM Deployment `vllm` (a base with room for a judge's prompt) mounting the
    `adapters` claim, and the dashboard with actions on, as the chart's dashboard ServiceAccount, reading the mirror
    through a role that can only read (pg_read_all_data, as docs/dashboard.md sets it up)."""
    work = tmp_path_factory.mktemp("dashboard")
    ns = cluster.create_namespace(f"{E2E_PREFIX}dash-{uuid.uuid4().hex[:6]}")
    create_claim(kube, ns, "models")
    create_claim(kube, ns, "adapters")
    base = build_tiny_model(cluster.volume_path(ns, "models") / BASE_MODEL_NAME,
                            TinyModelSpec(max_position_embeddings=CONTEXT, seed=5))
    deployment = vllm_server.vllm_deployment(
        "vllm", base, served_name=BASE_MODEL_NAME, replicas=1, max_lora_rank=8,
        extra_volumes=[{"name": "adapters", "persistentVolumeClaim": {"claimName": "adapters", "readOnly": True}}],
        extra_mounts=[{"name": "adapters", "mountPath": "/adapters", "readOnly": True}])
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    args[args.index("--max-model-len") + 1] = str(CONTEXT)
    kube.create(KubeREST.path_for("Deployment", ns), {**deployment, "metadata": {**deployment["metadata"],
                                                                                 "namespace": ns}})
    token = secrets.token_urlsafe(32)
    (work / "token").write_text(token + "\n")
    kubeconfig = dashboard_kubeconfig(cluster, work)
    reader = postgres.password_role(f"dashboard_{uuid.uuid4().hex[:8]}", secrets.token_hex(12),
                                    database=mirror_database.rsplit("/", 1)[1])
    dashboard = DashboardProcess.start(reader, work / "dashboard.log", "--actions", "--token-file",
                                       str(work / "token"), "--kubeconfig", str(kubeconfig))
    wait_for(lambda: kube.get(KubeREST.path_for("Deployment", ns, "vllm"))["status"].get("readyReplicas") == 1,
             600, interval=1, what="the vLLM replica to be ready")
    yield Site(ns, dashboard, token, work, mirror_database)
    dashboard.stop()
    kube.delete(KubeREST.path_for("Namespace", name=ns))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


@pytest.fixture(scope="module")
def training(site: Site, kube: KubeREST) -> str:
    """The TrainingJob, created once: long enough (1,200 steps, logged every 10; about 40 s on an idle
    machine) to watch its curve grow."""
    if kube.get_or_none(tj_path(site.namespace, JOB)) is None:
        kube.create(tj_path(site.namespace), training_job(
            JOB, hyperparameters={"maxSteps": 1200}, checkpoint={"everySteps": 300, "keep": 1},
            serving={"targets": [{"deployment": "vllm", "port": 8000}]}))
    return str(get_tj(kube, site.namespace, JOB)["metadata"]["uid"])


@pytest.fixture(scope="module")
def trained(site: Site, kube: KubeREST, operator: OperatorProcess, training: str) -> Json:
    """The run done and its model served: the TrainingJob's and the FineTunedModel's bodies."""
    tj = wait_phase(kube, site.namespace, JOB, ("Succeeded", "Failed"), timeout=900, operator=operator)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    wait_for(lambda: (kube.get_or_none(ftm_path(site.namespace, MODEL)) or {}).get("status", {}).get("phase")
             == "Serving", 300, interval=0.5, what=f"{MODEL} to be Serving")
    return {"job": tj, "model": kube.get(ftm_path(site.namespace, MODEL))}


def open_page(page: Any, site: Site, path: str) -> None:
    page.goto(site.dashboard.url + path)
    page.wait_for_load_state("networkidle")


def mirror_rows(database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as connection:
        return list(connection.execute(sql, params).fetchall())


def vllm_url(kube: KubeREST, ns: str) -> str:
    pods = kube.get(KubeREST.path_for("Pod", ns), labelSelector="app=vllm")["items"]
    ready = [p for p in pods if not p["metadata"].get("deletionTimestamp") and p["status"].get("podIP")]
    return f"http://{ready[0]['status']['podIP']}:8000"


# -- a run, live ------------------------------------------------------------------------------------------------------
def test_a_runs_curve_grows_while_its_page_is_open(site: Site, kube: KubeREST, page: Any, training: str,
                                                    operator: OperatorProcess) -> None:
    uid = training
    wait_for(lambda: site.dashboard.get_json(f"/api/runs/{uid}/curves")["curves"]["logged_steps"], 600, interval=0.5,
             what="the first logged steps in the mirror")
    assert get_tj(kube, site.namespace, JOB)["status"]["phase"] == "Running", "too late: the run already ended"
    open_page(page, site, f"/runs/{uid}")
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    first = wait_for(lambda: len((chart_data(page, "loss-chart") or {"datasets": [{"data": []}]})["datasets"][0]
                                 ["data"]), 30, what="the loss curve drawn")
    step_text = page.locator('#run-facts [data-field="step"]').inner_text()
    grown = wait_for(lambda: (n := len(chart_data(page, "loss-chart")["datasets"][0]["data"])) > first and n,
                     300, interval=0.5, what="the loss curve to grow without a reload")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded instead of updating"
    wait_for(lambda: page.locator('#run-facts [data-field="step"]').inner_text() != step_text, 60,
             what="the step shown to move on")
    print(f"loss curve grew from {first} to {grown} points while the page was open")
    screenshot(page, "dashboard-run-live")


def test_a_finished_runs_page_shows_every_logged_step_its_dataset_events_and_model(
        site: Site, kube: KubeREST, page: Any, trained: Json, training: str) -> None:
    uid = training
    stored = mirror_rows(site.database, "select step, loss, eval_loss, learning_rate, tokens_per_second from "
                         "training_metrics where job_uid = %s order by step", uid)
    assert len(stored) >= 30
    open_page(page, site, f"/runs/{uid}")
    # Let the page's last read after the end happen, then compare every series with the mirror's rows.
    wait_for(lambda: len(chart_data(page, "loss-chart")["datasets"][0]["data"]) == sum(r[1] is not None
                                                                                      for r in stored), 30,
             what="every logged step on the chart")
    loss, eval_loss = chart_data(page, "loss-chart")["datasets"]
    assert [p[0] for p in loss["data"]] == [r[0] for r in stored if r[1] is not None]
    assert [round(p[1], 6) for p in loss["data"]] == [round(r[1], 6) for r in stored if r[1] is not None]
    assert [p[0] for p in eval_loss["data"]] == [r[0] for r in stored if r[2] is not None] and eval_loss["data"]
    assert loss["data"][-1][1] < loss["data"][0][1], "the loss fell"
    assert len(chart_data(page, "lr-chart")["datasets"][0]["data"]) == sum(r[3] is not None for r in stored) > 0
    assert chart_data(page, "tps-chart")["datasets"][0]["data"]
    assert "Succeeded" in page.locator("#run-phase").inner_text()
    stats = trained["job"]["status"]["datasetStats"]
    dataset = page.locator("section[aria-labelledby=dataset-h]").inner_text()
    assert f"Examples\n{stats['examples']}" in dataset and stats["sha256"] in dataset
    # Events from the API server, read as the dashboard's ServiceAccount.
    events = [e for e in kube.get(KubeREST.path_for("Event", site.namespace))["items"]
              if e["involvedObject"].get("uid") == uid]
    assert events
    table = page.locator("#events").inner_text()
    assert all(e["reason"] in table for e in events)
    page.get_by_role("link", name=MODEL).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith(MODEL)
    open_page(page, site, f"/runs/{uid}")
    screenshot(page, "dashboard-run")


def test_the_runs_list_filters_by_namespace_phase_and_model(site: Site, page: Any, trained: Json) -> None:
    open_page(page, site, "/runs")
    assert f"{site.namespace}/{JOB}" in page.locator("#runs").inner_text()
    page.get_by_label("Namespace", exact=True).select_option(site.namespace)
    page.get_by_label("Phase", exact=True).select_option("Succeeded")
    page.get_by_label("Model", exact=True).select_option("support-bot")
    page.get_by_role("button", name="Filter").press("Enter")  # the keyboard is enough
    page.wait_for_load_state("networkidle")
    assert f"namespace={site.namespace}" in page.url and "phase=Succeeded" in page.url
    rows = page.locator("#runs tbody tr")
    assert rows.count() >= 1 and all(site.namespace in rows.nth(i).inner_text() for i in range(rows.count()))
    screenshot(page, "dashboard-runs")
    open_page(page, site, f"/runs?namespace={site.namespace}&phase=Failed")
    assert "No training run matches these filters." in page.locator("main").inner_text()


# -- models ---------------------------------------------------------------------------------------------------------
def test_the_models_page_shows_versions_lineage_pods_and_history(site: Site, kube: KubeREST, page: Any,
                                                                  trained: Json) -> None:
    model = trained["model"]
    open_page(page, site, "/models")
    group = page.locator("section.model-group", has_text="support-bot").first
    assert MODEL in group.inner_text() and "Serving" in group.inner_text() and "1/1" in group.inner_text()
    screenshot(page, "dashboard-models")
    open_page(page, site, f"/models/{model['metadata']['uid']}")
    lineage = page.locator("#lineage").inner_text()
    assert f"TrainingJob {JOB}" in lineage
    pods = kube.get(KubeREST.path_for("Pod", site.namespace), labelSelector="app=vllm")["items"]
    table = page.locator("table.pods[data-target=vllm]").inner_text()
    for pod in model["status"]["targets"][0]["pods"]:
        assert pod["name"] in table and pod["ip"] in table
    assert any(p["metadata"]["name"] in table for p in pods)
    timeline = page.locator("#timeline").inner_text()
    loads = mirror_rows(site.database, "select pod, action, outcome from deployment_history where model_uid = %s",
                        model["metadata"]["uid"])
    assert loads and all(pod in timeline for pod, _, _ in loads) and "load on" in timeline
    screenshot(page, "dashboard-model")


# -- a comparison -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def comparison(site: Site, kube: KubeREST, operator: OperatorProcess, trained: Json) -> Json:
    """The operator carries out a ModelComparison of the served adapter with its base on the memorised questions,
    judged by the base with position swap: its evaluator pod runs against the vLLM Deployment, and the operator
    mirrors the result and every sample."""
    facts = {json.dumps(r["messages"]) for r in memorisation_rows(6)}
    prompts = [{"prompt": m[0]["content"], "reference": m[1]["content"]} for m in map(json.loads, sorted(facts))] * 2
    kube.create(mc_path(site.namespace), {
        "apiVersion": GROUP_VERSION, "kind": "ModelComparison", "metadata": {"name": "bot-vs-base"},
        "spec": {"baseline": {"servedName": BASE_MODEL_NAME}, "candidate": {"fineTunedModelRef": {"name": MODEL}},
                 "endpoint": {"deployment": "vllm", "port": 8000}, "prompts": {"inline": prompts},
                 "judge": {"endpoint": {"deployment": "vllm", "port": 8000}, "model": BASE_MODEL_NAME},
                 "sampling": {"maxTokens": 24, "temperature": 0.0, "seed": 3}, "concurrency": 4, "minSamples": 6,
                 "primaryMetric": "tokenF1"}})
    done = wait_mc(kube, site.namespace, "bot-vs-base", lambda s: s.get("phase") in ("Succeeded", "Failed"),
                   operator, timeout=900)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    uid = done["metadata"]["uid"]
    wait_for(lambda: len(mirror_rows(site.database, "select 1 from comparison_samples where comparison_uid = %s",
                                     uid)) == len(prompts), 120, what="every sample in the mirror")
    wait_for(lambda: mirror_rows(site.database, "select 1 from model_comparisons where uid = %s and "
                                 "verdict is not null", uid), 60, what="the mirrored result")
    # Each sample as the evaluator wrote it, with its index in the comparison (what the page shows as data-index).
    samples = [{**row[1], "index": row[0]} for row in mirror_rows(
        site.database, "select sample_index, data from comparison_samples where comparison_uid = %s order by "
        "sample_index", uid)]
    return {"uid": uid, "results": done["status"]["results"], "samples": samples}


def test_the_comparison_page_shows_both_models_the_interval_latencies_and_samples(
        site: Site, page: Any, comparison: Json) -> None:
    results = comparison["results"]
    open_page(page, site, f"/comparisons/{comparison['uid']}")
    assert page.locator("#verdict").inner_text() == results["verdict"]
    assert page.locator("#verdict-reason").inner_text() == results["verdictReason"]
    win = results["winRate"]
    assert page.locator("#win-rate").inner_text() == f"{100 * win['candidate']:.1f}%"
    winrate = wait_for(lambda: chart_data(page, "winrate-chart"), 20, what="the win-rate chart")
    by_label = {d["label"]: d["data"] for d in winrate["datasets"]}
    assert by_label["win rate"][0]["x"] == pytest.approx(win["candidate"])
    assert by_label["95% interval"][0] == pytest.approx(win["ci95"])
    latency = chart_data(page, "latency-chart")
    assert "TTFT p50" in latency["labels"] and "Latency p99" in latency["labels"]
    for dataset in latency["datasets"]:
        side = results[dataset["label"]]
        assert dataset["data"][latency["labels"].index("TTFT p50")] == pytest.approx(side["ttftMs"]["p50"], abs=1e-3)
        assert dataset["data"][latency["labels"].index("Latency p95")] == pytest.approx(side["latencyMs"]["p95"],
                                                                                         abs=1e-3)
    metrics = page.locator("#metrics").inner_text()
    assert f"{results['candidate']['tokenF1']:.3f}" in metrics and f"{results['baseline']['tokenF1']:.3f}" in metrics
    samples = comparison["samples"]
    shown = page.locator("article.sample")
    assert shown.count() == min(25, len(samples))
    first = next(s for s in samples if s["index"] == 0)
    article = page.locator("article.sample[data-index='0']")
    assert first["candidate"]["answer"].strip()[:20] in article.locator(".candidate-answer").inner_text()
    assert first["baseline"]["answer"].strip()[:20] in article.locator(".baseline-answer").inner_text()
    assert first["reference"] in article.inner_text()
    assert article.locator(".judge-verdict").count() == 2
    screenshot(page, "dashboard-comparison")

    disagreeing = sorted(s["index"] for s in samples if (s.get("judge") or {}).get("inconsistent"))
    page.get_by_label("Only where the judge disagreed with itself").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state("networkidle")
    assert "disagreements=1" in page.url
    indices = sorted(int(i) for i in page.locator("article.sample").evaluate_all(
        "nodes => nodes.map(n => n.dataset.index)"))
    assert indices == disagreeing[:25]
    assert page.locator("article.sample:not(.disagree)").count() == 0
    if not disagreeing:
        assert "No sample matches." in page.locator("#samples").inner_text()
    print(f"{len(disagreeing)} of {len(samples)} samples where the judge disagreed with itself")


# -- the overview, on a desktop and on a phone -----------------------------------------------------------------------
def test_the_overview_counts_phases_and_lists_serving_models_and_verdicts(site: Site, browser: Any, page: Any,
                                                                          comparison: Json) -> None:
    open_page(page, site, "/")
    text = page.locator("main").inner_text()
    assert "Training jobs" in text and "Succeeded" in text
    assert f"{site.namespace}/{MODEL}" in page.locator("section[aria-labelledby=serving-h]").inner_text()
    assert f"{MODEL} vs {BASE_MODEL_NAME}" in page.locator("section[aria-labelledby=verdicts-h]").inner_text()
    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    screenshot(page, "dashboard-overview")
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True).new_page()
    phone.goto(site.dashboard.url + f"/comparisons/{comparison['uid']}")
    phone.wait_for_load_state("networkidle")
    width = phone.evaluate("document.documentElement.scrollWidth")
    offenders = phone.evaluate("""w => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > w && !e.closest('.table-wrap'))
        .slice(0, 5).map(e => `${e.tagName}.${e.className}#${e.id}: ${e.textContent.slice(0, 60)}`)""", PHONE["width"])
    assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px): {offenders}"
    screenshot(phone, "dashboard-comparison-phone")
    phone.context.close()


# -- actions ----------------------------------------------------------------------------------------------------------
def sign_in(page: Any, site: Site) -> None:
    open_page(page, site, "/actions")
    page.get_by_label("The dashboard's token").fill(site.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name="Start a training job").is_visible()


def test_actions_need_the_token(site: Site, kube: KubeREST, page: Any) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(site.dashboard.url + "/actions/train", method="POST", data=(
        f"namespace={site.namespace}&name=sneaky&baseModel=x&outputPvc=adapters&configMapName=x&intent=apply"
    ).encode(), headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert kube.get_or_none(tj_path(site.namespace, "sneaky")) is None
    open_page(page, site, "/actions")
    page.get_by_label("The dashboard's token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    assert "That is not the dashboard's token." in page.locator("#signin-error").inner_text()


def test_start_a_training_job_from_the_form(site: Site, kube: KubeREST, page: Any, operator: OperatorProcess,
                                             trained: Json) -> None:
    rows = "".join(json.dumps(r) + "\n" for r in memorisation_rows(12))
    kube.create(KubeREST.path_for("ConfigMap", site.namespace), {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "facts"}, "data": {"dataset.jsonl": rows}})
    sign_in(page, site)
    page.get_by_role("link", name="Start a training job").click()
    page.wait_for_load_state("networkidle")
    fields = {"Namespace": site.namespace, "Name": "from-the-form", "Base model": BASE_MODEL_NAME,
              "On a PVC": f"models/{BASE_MODEL_NAME}", "ConfigMap": "facts", "Rank r": "8", "Alpha": "16",
              "Target modules": "q_proj,v_proj", "Max steps": "20", "Batch size": "4", "Learning rate": "0.005",
              "Max sequence length": "128", "GPUs": "0", "Adapter PVC": "adapters", "Model name": "from-form",
              "Epochs": "1"}
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Preview YAML").click()
    page.wait_for_load_state("networkidle")
    preview = page.locator("#preview-yaml").inner_text()
    assert "kind: TrainingJob" in preview and "name: from-the-form" in preview and "configMap:" in preview
    assert kube.get_or_none(tj_path(site.namespace, "from-the-form")) is None, "a preview creates nothing"
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    assert "TrainingJob" in page.locator("#applied").inner_text()
    applied = page.locator("#applied-yaml").inner_text()
    tj = kube.get(tj_path(site.namespace, "from-the-form"))
    assert tj["spec"]["dataset"]["source"] == {"configMap": {"name": "facts", "key": "dataset.jsonl"}}
    assert tj["spec"]["lora"]["targetModules"] == ["q_proj", "v_proj"] and "q_proj" in applied
    assert tj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubetune-dashboard"
    screenshot(page, "dashboard-action-train")
    done = wait_phase(kube, site.namespace, "from-the-form", ("Succeeded", "Failed"), timeout=600, operator=operator)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["modelRef"]["name"] == "from-form-v1"


def test_withdraw_and_deploy_a_model_version(site: Site, kube: KubeREST, page: Any, trained: Json) -> None:
    model = trained["model"]
    url = vllm_url(kube, site.namespace)
    sign_in(page, site)
    for action, loaded in (("withdraw", False), ("deploy", True)):
        open_page(page, site, f"/models/{model['metadata']['uid']}")
        page.get_by_label("Target Deployment").fill("vllm")
        page.get_by_label("Action").select_option(action)
        page.get_by_role("button", name="Preview").click()
        page.wait_for_load_state("networkidle")
        preview = page.locator("#preview-yaml").inner_text()
        assert "resourceVersion" in preview and "targets:" in preview
        page.get_by_role("button", name="Apply").click()
        page.wait_for_load_state("networkidle")
        assert "patched" in page.locator("#applied").inner_text()
        targets = (kube.get(ftm_path(site.namespace, MODEL))["spec"].get("serving") or {}).get("targets") or []
        assert ([t["deployment"] for t in targets] == ["vllm"]) is loaded
        # The operator carries it out on the pod.
        wanted = "load" if loaded else "unload"
        wait_for(lambda want=loaded: (MODEL in {m["id"] for m in vllm_server.models(url)}) is want, 120,
                 interval=0.5, what=f"{MODEL} {wanted}ed on the vLLM pod")
        wait_for(lambda verb=wanted: mirror_rows(site.database, "select 1 from deployment_history where model_uid = "
                                                 "%s and action = %s and outcome = 'succeeded'",
                                                 model["metadata"]["uid"], verb), 60, what="the mirror's history row")
    open_page(page, site, f"/models/{model['metadata']['uid']}")
    assert "unload on" in page.locator("#timeline").inner_text()


def test_start_a_comparison_from_the_form(site: Site, kube: KubeREST, page: Any, operator: OperatorProcess,
                                         trained: Json) -> None:
    sign_in(page, site)
    open_page(page, site, "/actions/compare")
    for label, value in {"Namespace": site.namespace, "Name": "from-the-form", "Baseline": BASE_MODEL_NAME,
                         "Candidate": f"ftm/{MODEL}", "Endpoint": "deployment/vllm:8000", "TrainingJob": JOB,
                         "Samples": "12", "Minimum samples for a verdict": "6"}.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    assert "ModelComparison" in page.locator("#applied").inner_text()
    created = kube.get(KubeREST.path(GROUP_VERSION, "modelcomparisons", site.namespace, "from-the-form"))
    assert created["spec"]["candidate"] == {"fineTunedModelRef": {"name": MODEL}}
    assert created["spec"]["prompts"] == {"fromTrainingJob": {"name": JOB}}
    # The operator carries it out: the evaluator compares the adapter with its base on the job's held-out split.
    wait_mc(kube, site.namespace, "from-the-form", lambda s: s.get("phase") in ("Succeeded", "Failed"), operator,
            timeout=900)
    done = kube.get(KubeREST.path(GROUP_VERSION, "modelcomparisons", site.namespace, "from-the-form"))
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["status"]["results"]["samples"] >= 1
    open_page(page, site, f"/comparisons/{done['metadata']['uid']}")

    def shows_the_verdict() -> bool:
        page.reload()
        return page.locator("#verdict").count() == 1 and \
            page.locator("#verdict").inner_text() == done["status"]["results"]["verdict"]

    wait_for(shows_the_verdict, 60, interval=1, what="the comparison's page to show its verdict")


def test_a_bad_form_names_the_field(site: Site, page: Any) -> None:
    sign_in(page, site)
    open_page(page, site, "/actions/train")
    page.get_by_label("Namespace", exact=True).fill(site.namespace)
    page.get_by_label("Name", exact=True).fill("Not_A_Name")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    errors = page.locator("#form-errors").inner_text()
    assert "name:" in errors and "baseModel: required" in errors and "outputPvc: required" in errors
    assert page.locator("#f-name").get_attribute("aria-invalid") == "true"


# -- an empty database, and one that goes down ------------------------------------------------------------------------
def test_an_empty_database_shows_empty_states_and_an_outage_a_banner_the_page_recovers_from(
        browser: Any, tmp_path: Path) -> None:
    server = start_postgres()  # in a directory of its own, which the server's unprivileged user can enter
    dashboard = None
    try:
        url = server.create_database("empty_mirror")
        dashboard = DashboardProcess.start(url, tmp_path / "dashboard.log", "--no-cluster")
        page = browser.new_context(viewport=DESKTOP).new_page()
        page.goto(dashboard.url + "/")
        assert "Nothing has been mirrored yet" in page.locator("main").inner_text()
        assert "the mirror has no tables" in page.locator("main").inner_text()
        upgrade(url)  # the schema, as a starting operator makes it, and no rows
        for path, text in (("/", "Nothing has been mirrored yet"), ("/runs", "No training runs yet."),
                           ("/models", "No models yet."), ("/comparisons", "No comparisons yet.")):
            page.goto(dashboard.url + path)
            assert text in page.locator("main").inner_text()
            assert page.locator("#banner").is_hidden()
        page.goto(dashboard.url + "/runs")
        page.evaluate("window.__sameDocument = true")
        server.shutdown()
        page.locator("#banner").wait_for(state="visible", timeout=20_000)
        assert "The database is not answering." in page.locator("#banner").inner_text()
        screenshot(page, "dashboard-database-down")
        page.goto(dashboard.url + "/models")  # a page loaded during the outage says so, and is not an error page
        assert page.locator("#banner").is_visible()
        assert "Cannot show models right now" in page.locator("main").inner_text()
        server.start()
        # It reloads itself once the database answers: the banner goes, the content comes.
        page.locator("#banner").wait_for(state="hidden", timeout=30_000)
        page.wait_for_load_state("networkidle")
        assert "No models yet." in page.locator("main").inner_text()
        page.context.close()
    finally:
        if dashboard is not None:
            dashboard.stop()
        server.stop()
