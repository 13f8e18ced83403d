"""``make demo``: the quickstart, end to end. A local cluster (or the current kubeconfig), the operator mirroring
into a real PostgreSQL, a tiny base model, a vLLM CPU Deployment, a TrainingJob, its FineTunedModel hot-loaded on
every replica, a completion through the adapter, and a ModelComparison of the adapter against its base on the job's
held-out questions, printed as a table with its verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from kubetune.api.crdgen import crd_manifests

from .controlplane import LocalCluster, ensure_namespace
from .kubeapi import KubeREST
from .operator_process import OperatorProcess
from .postgres import start_postgres
from .waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "examples" / "demo"
NAMESPACE = "kubetune-demo"
PROMPT = "Where is my order 4242?"
JOB = "support-bot"
COMPARISON = "support-bot-v1-vs-base"
Json = dict[str, Any]


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def apply_file(kube: KubeREST, path: Path, namespace: str) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            doc.setdefault("metadata", {})["namespace"] = namespace
            kube.apply(doc)


def install_crds(kube: KubeREST) -> None:
    for crd in crd_manifests():
        kube.apply(crd)
    wait_for(lambda: all(any(c["type"] == "Established" and c["status"] == "True"
                             for c in kube.get(KubeREST.path_for("CustomResourceDefinition", name=m["metadata"]
                                                                 ["name"])).get("status", {}).get("conditions", []))
                         for m in crd_manifests()), 60, what="CRDs established")


def client_job(pod_ips: list[str], model: str) -> Json:
    """An in-cluster client: asks every vLLM pod the same question through the base model and the adapter."""
    script = (
        "import json, sys, urllib.request\n"
        "def ask(ip, model):\n"
        f"    body = json.dumps({{'model': model, 'messages': [{{'role': 'user', 'content': {PROMPT!r}}}], "
        "'max_tokens': 16, 'temperature': 0})\n"
        "    req = urllib.request.Request(f'http://{ip}:8000/v1/chat/completions', body.encode(),\n"
        "                                 {'Content-Type': 'application/json'})\n"
        "    return json.load(urllib.request.urlopen(req, timeout=60))['choices'][0]['message']['content']\n"
        "out = [{'pod': ip, 'base': ask(ip, 'tiny-llama'), 'adapter': ask(ip, sys.argv[1])} for ip in sys.argv[2:]]\n"
        "open('/dev/termination-log', 'w').write(json.dumps(out))\n"
    )
    return {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"ask-{model}"},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False,
            "containers": [{"name": "ask", "image": "ghcr.io/kubetune/trainer:0.1.0",
                            "command": ["python", "-c", script, model, *pod_ips],
                            "terminationMessagePolicy": "FallbackToLogsOnError"}]}}},
    }


def _status(kube: KubeREST, plural: str, name: str) -> Json:
    obj = kube.get_or_none(KubeREST.path("kubetune.dev/v1alpha1", plural, NAMESPACE, name))
    return (obj or {}).get("status") or {}


def follow_training(kube: KubeREST) -> Json:
    last = ""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = _status(kube, "trainingjobs", JOB)
        progress = status.get("progress") or {}
        line = f"TrainingJob {JOB}: {status.get('phase', '-')}"
        if progress.get("loss") is not None:
            line += (f"  step {progress.get('step')}/{progress.get('totalSteps', '?')}  loss "
                     f"{progress['loss']:.3f}  {progress.get('percent', 0):.0f}%")
        elif status.get("message"):
            line += f"  ({status['message'][:100]})"
        if line != last:
            print(f"    {line}", flush=True)
            last = line
        if status.get("phase") in ("Succeeded", "Failed"):
            return status
        time.sleep(0.5)
    raise TimeoutError("the TrainingJob did not finish in 15 minutes")


def follow_comparison(kube: KubeREST) -> Json:
    last = ""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        status = _status(kube, "modelcomparisons", COMPARISON)
        progress = status.get("progress") or {}
        line = f"ModelComparison {COMPARISON}: {status.get('phase', '-')} {status.get('reason', '')}"
        if progress.get("total"):
            line += f"  {progress.get('done', 0)}/{progress['total']} prompts"
        if line != last:
            print(f"    {line}", flush=True)
            last = line
        if status.get("phase") in ("Succeeded", "Failed"):
            return status
        time.sleep(0.5)
    raise TimeoutError("the ModelComparison did not finish in 15 minutes")


def print_comparison(kube: KubeREST) -> None:
    """The verdict table, as `kubetune compare --wait` prints it."""
    from kubetune.cli.comparison_view import render
    from kubetune.cli.output import console

    out = console()
    for part in render(kube.get(KubeREST.path("kubetune.dev/v1alpha1", "modelcomparisons", NAMESPACE,
                                              COMPARISON))):
        out.print(part)


def print_mirror(url: str) -> None:
    """What the mirror holds after the run (the database outlives the objects)."""
    import psycopg

    from kubetune.redaction import redact

    say(f"mirrored into PostgreSQL at {redact(url)}:")
    queries = {"training_jobs": "select count(*) from training_jobs",
               "training_metrics (loss curve steps)": "select count(*) from training_metrics",
               "fine_tuned_models": "select count(*) from fine_tuned_models",
               "deployment_history (per-pod loads)": "select count(*) from deployment_history",
               "model_comparisons": "select count(*) from model_comparisons",
               "comparison_samples": "select count(*) from comparison_samples"}
    with psycopg.connect(url) as conn:
        for label, query in queries.items():
            print(f"    {label:38} {conn.execute(query).fetchone()[0]:>6}")  # type: ignore[index]


def print_kubectl_get(kubectl: Path | None) -> None:
    """What `kubectl get tj,ftm,mc` shows now: the columns the CRDs define."""
    if kubectl is None or not kubectl.exists():
        return
    say(f"kubectl -n {NAMESPACE} get tj,ftm,mc")
    shown = subprocess.run([str(kubectl), "-n", NAMESPACE, "get", "tj,ftm,mc"], capture_output=True, text=True,
                           timeout=60)
    for line in (shown.stdout or shown.stderr).splitlines():
        print(f"    {line}", flush=True)


def run(kube: KubeREST, operator_kubeconfig: Path | None, state: Path, database_url: str | None = None,
        kubectl: Path | None = None) -> int:
    install_crds(kube)
    operator = None
    if operator_kubeconfig is not None:
        say("starting the kubetune operator (kubetune operator)")
        env = {"KUBETUNE_DATABASE_URL": database_url} if database_url else {}
        operator = OperatorProcess(kubeconfig=operator_kubeconfig, log_path=state / "operator.log", env=env).start()
    try:
        ensure_namespace(kube, NAMESPACE)
        say(f"namespace {NAMESPACE}: storage, a tiny base model, and vLLM (2 replicas, CPU)")
        for name in ("00-storage.yaml", "01-base-model.yaml"):
            apply_file(kube, MANIFESTS / name, NAMESPACE)
        wait_for(lambda: kube.get(KubeREST.path_for("Job", NAMESPACE, "tiny-llama"))["status"].get("succeeded"), 300,
                 interval=0.5, what="the tiny model to be built")
        apply_file(kube, MANIFESTS / "02-vllm.yaml", NAMESPACE)
        say("kubectl apply -f examples/demo/03-trainingjob.yaml")
        apply_file(kube, MANIFESTS / "03-trainingjob.yaml", NAMESPACE)
        status = follow_training(kube)
        if status.get("phase") != "Succeeded":
            say(f"training failed: {status.get('reason')}: {status.get('message')}")
            return 1
        model = status["modelRef"]["name"]
        metrics = status.get("metrics") or {}
        say(f"trained in {metrics.get('runtimeSeconds', 0):.1f}s, final loss {metrics.get('trainLoss', 0):.3f}; "
            f"registered FineTunedModel {model}")
        say("waiting for vLLM and the hot-load of the adapter on every replica")
        replicas = kube.get(KubeREST.path_for("Deployment", NAMESPACE, "vllm"))["spec"]["replicas"]
        wait_for(lambda: _status(kube, "finetunedmodels", model).get("loaded") == f"{replicas}/{replicas}", 600,
                 interval=0.5, what=f"FineTunedModel {model} to be loaded on all {replicas} replicas")
        ftm = _status(kube, "finetunedmodels", model)
        for target in ftm["targets"]:
            for pod in target["pods"]:
                print(f"    {target['deployment']}/{pod['name']} ({pod['ip']}): loaded={pod['loaded']} "
                      f"at {pod.get('loadedAt')}")
        restarts = sum(s.get("restartCount", 0) for p in kube.get(KubeREST.path_for("Pod", NAMESPACE),
                                                                  labelSelector="app=vllm")["items"]
                       for s in p["status"].get("containerStatuses") or [])
        say(f"Serving on {ftm['loaded']} replicas, {restarts} restarts")
        ips = [pod["ip"] for target in ftm["targets"] for pod in target["pods"]]
        ask = client_job(ips, model)
        ask["metadata"]["namespace"] = NAMESPACE
        kube.delete(KubeREST.path_for("Job", NAMESPACE, ask["metadata"]["name"]), {"propagationPolicy": "Background"})
        wait_for(lambda: kube.get_or_none(KubeREST.path_for("Job", NAMESPACE, ask["metadata"]["name"])) is None, 30)
        kube.create(KubeREST.path_for("Job", NAMESPACE), ask)
        pod = wait_for(lambda: next((p for p in kube.get(KubeREST.path_for("Pod", NAMESPACE),
                                                         labelSelector=f"job-name={ask['metadata']['name']}")["items"]
                                     if p["status"].get("phase") in ("Succeeded", "Failed")), None), 120,
                       what="the client pod")
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        if pod["status"]["phase"] != "Succeeded":
            say(f"the client failed: {terminated.get('message')}")
            return 1
        say(f"answers to {PROMPT!r}:")
        for answer in json.loads(terminated["message"]):
            print(f"    pod {answer['pod']}\n      base (tiny-llama): {answer['base']!r}\n"
                  f"      adapter ({model}): {answer['adapter']!r}")
        say("kubectl apply -f examples/demo/04-comparison.yaml  (the adapter against its base, on held-out questions)")
        apply_file(kube, MANIFESTS / "04-comparison.yaml", NAMESPACE)
        compared = follow_comparison(kube)
        if compared.get("phase") != "Succeeded":
            say(f"the comparison failed: {compared.get('reason')}: {compared.get('message')}")
            return 1
        print_comparison(kube)
        if database_url:
            time.sleep(2)  # the mirror's writer commits within moments of the last events
            print_mirror(database_url)
        print_kubectl_get(kubectl)
        say("done")
        return 0
    finally:
        if operator is not None:
            operator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the kubetune quickstart end to end.")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".state" / "demo")
    parser.add_argument("--keep", action="store_true", help="keep the local cluster running until Ctrl-C")
    args = parser.parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig = os.environ.get("KUBECONFIG")
    if kubeconfig:
        say(f"using the current kubeconfig {kubeconfig}")
        kube = KubeREST.from_kubeconfig(kubeconfig)
        # Run the operator here unless one is already installed in the cluster (e.g. by the Helm chart).
        installed = kube.get(KubeREST.path_for("Deployment"), labelSelector="app.kubernetes.io/name=kubetune")
        kubectl = shutil.which("kubectl")
        sys.exit(run(kube, None if installed.get("items") else Path(kubeconfig), args.state_dir,
                     kubectl=Path(kubectl) if kubectl else None))
    say("starting a local Kubernetes control plane and a process node")
    root = args.state_dir / "cluster"
    shutil.rmtree(root, ignore_errors=True)  # a fresh cluster each time: its certificates are new
    cluster = LocalCluster(root=root)
    cluster.start()
    os.environ["KUBECONFIG"] = str(cluster.kubeconfig)
    say("starting PostgreSQL for the operator's mirror")
    shutil.rmtree(args.state_dir / "postgres", ignore_errors=True)
    database = start_postgres(args.state_dir / "postgres")
    try:
        code = run(cluster.api, cluster.kubeconfig, args.state_dir, database.create_database("kubetune"),
                   cluster.bin_dir / "kubectl")
        if args.keep and code == 0:
            say(f"cluster kept running; export KUBECONFIG={cluster.kubeconfig} (Ctrl-C stops it)")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        code = 130
    finally:
        cluster.stop()
        database.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
