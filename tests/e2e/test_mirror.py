"""The database mirror with the real operator and a real PostgreSQL: nothing lost while the database is down during
training and a rollout, no loss-curve step missing or doubled when the operator is SIGKILLed mid-training, and rows
that outlive their objects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kubetune_devcluster.kubeapi import KubeREST
from kubetune_devcluster.operator_process import OperatorProcess
from kubetune_devcluster.postgres import PostgresServer
from kubetune_devcluster.waiting import wait_for

from .conftest import training_job
from .helpers import get_tj, logged_steps, tj_path, wait_phase
from .serving import get_ftm, vllm_pods

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.slow]
# Long enough (about 30 s on an idle machine) that the operator is killed and back while the trainer still runs.
KILLED_STEPS = 900


def rows(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(query, args).fetchall())


def metric(operator: OperatorProcess, name: str) -> float:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def test_a_postgres_outage_during_training_and_a_rollout_loses_nothing(
        kube: KubeREST, serving_ns: str, operator: OperatorProcess, postgres: PostgresServer,
        mirror_database: str) -> None:
    ns = serving_ns
    dropped_before = metric(operator, "kubetune_mirror_rows_dropped_total")
    postgres.shutdown()
    try:
        kube.create(tj_path(ns), training_job("outage", hyperparameters={"maxSteps": 60},
                                              output={"modelName": "outage", "storage": {"pvc": {"claimName":
                                                                                                 "adapters"}}},
                                              serving={"targets": [{"deployment": "vllm", "port": 8000}]}))
        tj = wait_phase(kube, ns, "outage", ("Succeeded", "Failed"), operator=operator, timeout=400)
        assert tj["status"]["phase"] == "Succeeded", tj["status"]
        model = tj["status"]["modelRef"]["name"]
        wait_for(lambda: get_ftm(kube, ns, model)["status"].get("phase") == "Serving", 120, what="the rollout")
        time.sleep(2)  # the mirror keeps retrying meanwhile, holding what it could not write
    finally:
        postgres.start()

    job_uid = tj["metadata"]["uid"]
    wait_for(lambda: [r[0] for r in rows(mirror_database, "select step from training_metrics where job_uid = %s "
                                                          "order by step", job_uid)] == logged_steps(60),
             120, interval=1, what="every logged step of the loss curve, once")
    wait_for(lambda: rows(mirror_database, "select phase, registered_model from training_jobs where uid = %s",
                          job_uid) == [("Succeeded", model)], 60, interval=1, what="the job's current row")
    model_uid = get_ftm(kube, ns, model)["metadata"]["uid"]
    pods = {p["metadata"]["name"] for p in vllm_pods(kube, ns)}
    wait_for(lambda: {r[0] for r in rows(mirror_database, "select pod from deployment_history where model_uid = %s "
                                                         "and action = 'load' and outcome = 'succeeded'",
                                         model_uid)} == pods, 60, interval=1, what="one load row per pod")
    loads = rows(mirror_database, "select pod, count(*) from deployment_history where model_uid = %s and "
                 "action = 'load' group by pod", model_uid)
    assert all(count == 1 for _, count in loads), f"a load recorded twice: {loads}"
    assert metric(operator, "kubetune_mirror_rows_dropped_total") == dropped_before == 0
    kube.delete(KubeREST.path("kubetune.dev/v1alpha1", "finetunedmodels", ns, model))
    wait_for(lambda: {r[0] for r in rows(mirror_database, "select pod from deployment_history where model_uid = %s "
                                                         "and action = 'unload'", model_uid)} == pods, 90,
             interval=1, what="one unload row per pod after the delete")


def test_a_sigkilled_operator_loses_no_step_and_deleted_jobs_keep_their_rows(
        kube: KubeREST, namespace: str, operator: OperatorProcess, storage: dict[str, Path],
        mirror_database: str) -> None:
    kube.create(tj_path(namespace), training_job("killed", hyperparameters={"maxSteps": KILLED_STEPS}))
    wait_for(lambda: ((get_tj(kube, namespace, "killed").get("status") or {}).get("progress") or {}).get("step", 0)
             >= 60, 400, interval=0.2, what="training under way")
    operator.kill()  # SIGKILL: nothing flushed, nothing said
    time.sleep(3)
    operator.start()  # it resumes from the newest step the mirror has
    tj = wait_phase(kube, namespace, "killed", ("Succeeded", "Failed"), operator=operator, timeout=400)
    assert tj["status"]["phase"] == "Succeeded", tj["status"]
    uid = tj["metadata"]["uid"]
    wait_for(lambda: [r[0] for r in rows(mirror_database, "select step from training_metrics where job_uid = %s "
                                                          "order by step", uid)] == logged_steps(KILLED_STEPS), 60,
             interval=1, what="every logged step, none missing, none twice")

    kube.delete(tj_path(namespace, "killed"))
    wait_for(lambda: kube.get_or_none(tj_path(namespace, "killed")) is None, 60, what="the TrainingJob to go")
    deleted = wait_for(lambda: rows(mirror_database, "select deleted_at, phase from training_jobs where uid = %s "
                                                     "and deleted_at is not null", uid) or None, 60, interval=1,
                       what="deleted_at on its row")
    assert deleted[0][1] == "Succeeded"
    assert len(rows(mirror_database, "select step from training_metrics where job_uid = %s", uid)) == \
        len(logged_steps(KILLED_STEPS)), "its loss curve outlives it"
