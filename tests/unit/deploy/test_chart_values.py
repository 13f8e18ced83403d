"""The chart renders what each value promises, refuses what it does not know, and passes `helm lint --strict`, all with
the real helm and no cluster."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune_devcluster import deploy

CHART = deploy.CHART
EVERYTHING_ON = {
    "replicas": 2,
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
                "grafanaDashboard": {"enabled": True}},
    "postgresql": {"enabled": True},
    "dashboard": {"enabled": True, "ingress": {"enabled": True}},
}


def render(values: dict[str, Any] | None = None, hooks: bool = True) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(deploy.helm_template(values, include_crds=False, hooks=hooks)) if d]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def operator_deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in of_kind(docs, "Deployment") if "app.kubernetes.io/component" not in d["metadata"]["labels"])


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return dict(operator_deployment(docs)["spec"]["template"]["spec"]["containers"][0])


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(deploy.helm_binary()), *args], capture_output=True, text=True)


@pytest.mark.parametrize("values", [{}, {"watchNamespaces": ["team-a"]}, EVERYTHING_ON], ids=["default", "namespaced",
                                                                                            "everything-on"])
def test_helm_lint_strict_passes(values: dict[str, Any]) -> None:
    args = [a for k, v in values.items() for a in ("--set-json", f"{k}={json.dumps(v)}")]
    done = helm("lint", "--strict", str(CHART), *args)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("values", "message"), [
    ({"replica": 2}, "additional properties 'replica' not allowed"),
    ({"uninstall": {"resources": "drop"}}, "/uninstall/resources"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"dashboard": {"refreshSeconds": 10}}, "/dashboard/refreshSeconds"),
    ({"dashboard": {"actions": {"enable": True}}}, "additional properties 'enable' not allowed"),
    ({"metrics": {"service": False, "serviceMonitor": {"enabled": True}}}, "serviceMonitor.enabled needs"),
])
def test_bad_values_are_refused_naming_the_field(values: dict[str, Any], message: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(message)):
        deploy.helm_template(values)


def test_two_replicas_by_default_roll_and_keep_one_available() -> None:
    docs = render()
    deployment = operator_deployment(docs)
    assert deployment["spec"]["replicas"] == 2
    # A new pod starts as a standby before an old one stops; the Lease decides which one acts.
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    [budget] = of_kind(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_one_replica_has_no_disruption_budget() -> None:
    docs = render({"replicas": 1})
    assert operator_deployment(docs)["spec"]["replicas"] == 1
    assert not of_kind(docs, "PodDisruptionBudget"), "minAvailable 1 of 1 would block every drain"


def test_each_replica_knows_its_pod_for_the_lease_and_binds_its_health_endpoint() -> None:
    docs = render({"health": {"address": "$(POD_IP)", "port": 8181}})
    container = operator_container(docs)
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "--liveness=http://$(POD_IP):8181/healthz" in container["args"]
    assert {"name": "health", "containerPort": 8181} in container["ports"]
    [binding] = [b for b in of_kind(docs, "RoleBinding") if b["metadata"]["name"].endswith("-leader-election")]
    assert binding["subjects"][0]["name"] == operator_deployment(docs)["spec"]["template"]["spec"][
        "serviceAccountName"]


def hook_jobs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {j["metadata"]["annotations"]["helm.sh/hook"]: j for j in of_kind(docs, "Job")}


def test_hooks_apply_crds_on_install_and_upgrade_and_purge_on_delete() -> None:
    docs = render()
    jobs = hook_jobs(docs)
    assert set(jobs) == {"pre-install,pre-upgrade", "pre-delete"}
    apply = jobs["pre-install,pre-upgrade"]["spec"]["template"]["spec"]["containers"][0]
    purge = jobs["pre-delete"]["spec"]["template"]["spec"]["containers"][0]
    assert [apply["command"], apply["args"][:2]] == [["kubetune"], ["crds", "apply"]]
    assert [purge["command"], purge["args"]] == [["kubetune"], ["crds", "purge", "--timeout=120", "--all-namespaces"]]
    assert apply["image"] == purge["image"] == operator_container(docs)["image"], "the operator image, same version"
    for job in jobs.values():
        # Nothing of a hook outlives it, and a rerun replaces the last one.
        assert job["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # The hooks' ServiceAccount and RBAC exist before the Jobs (lower weight), for every hook event.
    for doc in docs:
        if doc["kind"] != "Job" and doc["metadata"]["name"].endswith("-hooks"):
            assert doc["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade,pre-delete"
            assert int(doc["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0


def test_hook_rbac_is_the_crds_by_name_and_the_purge() -> None:
    [role] = [r for r in of_kind(render(), "ClusterRole") if r["metadata"]["name"].endswith("-hooks")]
    assert role["rules"] == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
         "resourceNames": ["trainingjobs.kubetune.dev", "finetunedmodels.kubetune.dev",
                           "modelcomparisons.kubetune.dev"], "verbs": ["get", "patch"]},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": ["create"]},
        {"apiGroups": ["kubetune.dev"], "resources": ["trainingjobs", "finetunedmodels", "modelcomparisons"],
         "verbs": ["get", "list", "delete", "patch"]}]


def test_namespaced_purge_is_confined_to_the_watched_namespaces() -> None:
    docs = render({"watchNamespaces": ["team-a", "team-b"], "uninstall": {"resources": "keep"},
                   "crds": {"upgrade": False}})
    jobs = hook_jobs(docs)
    # No CRD hook when crds.upgrade is off; keeping the objects waits until the operator is gone (post-delete), or it
    # would put its finalizer back.
    assert set(jobs) == {"post-delete"}
    args = jobs["post-delete"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == ["crds", "purge", "--timeout=120", "--keep", "--namespace=team-a", "--namespace=team-b"]
    purge_roles = [r for r in of_kind(docs, "Role") if r["metadata"]["name"].endswith("-hooks")]
    assert {r["metadata"]["annotations"]["helm.sh/hook"] for r in purge_roles} == {"post-delete"}
    assert sorted(r["metadata"]["namespace"] for r in purge_roles) == ["team-a", "team-b"]
    [cluster_role] = [r for r in of_kind(docs, "ClusterRole") if r["metadata"]["name"].endswith("-hooks")]
    assert not cluster_role["rules"], "no cluster-wide rights when neither CRDs nor all namespaces are in scope"


def test_plain_yaml_install_has_no_hooks() -> None:
    docs = [d for d in yaml.safe_load_all((deploy.REPO / "deploy" / "kubetune.yaml").read_text()) if d]
    assert not of_kind(docs, "Job")
    assert not [d for d in docs if "helm.sh/hook" in (d["metadata"].get("annotations") or {})]


def test_database_url_comes_from_the_existing_secret() -> None:
    docs = render({"database": {"existingSecret": {"name": "mirror-db", "key": "dsn"}}})
    env = {e["name"]: e for e in operator_container(docs)["env"]}
    assert env["KUBETUNE_DATABASE_URL"]["valueFrom"] == {"secretKeyRef": {"name": "mirror-db", "key": "dsn"}}
    assert not of_kind(docs, "StatefulSet")


def test_bundled_postgresql_and_dashboard() -> None:
    docs = render(EVERYTHING_ON)
    [statefulset] = of_kind(docs, "StatefulSet")
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "docker.io/library/postgres:17"
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"] == {"requests": {"storage": "8Gi"}}
    [secret] = of_kind(docs, "Secret")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert len(secret["data"]["password"]) >= 32
    env = {e["name"]: e for e in operator_container(docs)["env"]}
    # $(VAR) expansion: the password never appears in the manifest, only the Secret's reference.
    assert env["KUBETUNE_DATABASE_URL"]["value"] == (
        "postgresql://kubetune:$(KUBETUNE_DATABASE_PASSWORD)@kubetune-postgresql.kubetune-system.svc:5432/kubetune")
    assert [e["name"] for e in operator_container(docs)["env"]].index("KUBETUNE_DATABASE_PASSWORD") < \
        [e["name"] for e in operator_container(docs)["env"]].index("KUBETUNE_DATABASE_URL")
    dashboard = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-dashboard"))
    pod = dashboard["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kubetune-dashboard"
    assert pod["automountServiceAccountToken"] is True, "it lists a run's Events"
    assert pod["containers"][0]["command"] == ["kubetune", "dashboard"]
    assert pod["containers"][0]["args"] == ["--address=0.0.0.0", "--port=8000", "--refresh=3"]
    [ingress] = of_kind(docs, "Ingress")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert backend["service"]["name"] == dashboard["metadata"]["name"]


def operator_metric_names() -> set[str]:
    """The metric names controllers/metrics.py registers, read from its source (no prometheus registry needed)."""
    source = (deploy.REPO / "operator" / "kubetune" / "controllers" / "metrics.py").read_text()
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("Counter", "Histogram", "Gauge"):
            names.add(node.args[0].value)  # type: ignore[attr-defined]
    return names


# The mirror's metric is not in this branch's code: its name is the one the store is asked to register.
ASSUMED_METRICS = {"kubetune_mirror_rows_dropped_total"}
PROCESS_METRICS = {"process_resident_memory_bytes", "process_cpu_seconds_total", "up"}


def metrics_in(expr: str) -> set[str]:
    names = set(re.findall(r"\b(kubetune_[a-z_]+|process_[a-z_]+|up)\b", expr))
    # Histograms are queried through their _bucket series; counters are registered without _total by the client.
    return {re.sub(r"_bucket$", "", n) for n in names}


def known_metrics() -> set[str]:
    names = operator_metric_names()
    return names | {f"{n}_total" for n in names} | ASSUMED_METRICS | PROCESS_METRICS


def test_alerts_cover_failures_unloaded_adapters_and_the_mirror_with_real_metric_names() -> None:
    [rule] = of_kind(render(EVERYTHING_ON), "PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {"KubetuneTrainingJobFailed", "KubetuneAdapterNotLoadedEverywhere", "KubetuneMirrorDroppingRows"} <= set(
        alerts)
    for name, alert in alerts.items():
        unknown = metrics_in(alert["expr"]) - known_metrics()
        assert not unknown, f"{name} queries metrics nobody exports: {unknown}"


def test_grafana_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((CHART / "dashboards" / "kubetune-operator.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 8
    for expr in exprs:
        assert not metrics_in(expr) - known_metrics(), expr
    [configmap] = of_kind(render(EVERYTHING_ON), "ConfigMap")
    assert json.loads(configmap["data"]["kubetune-operator.json"]) == dashboard
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_servicemonitor_selects_the_metrics_service() -> None:
    docs = render(EVERYTHING_ON)
    [monitor] = of_kind(docs, "ServiceMonitor")
    service = next(s for s in of_kind(docs, "Service") if s["metadata"]["name"].endswith("-metrics"))
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


def test_values_schema_lists_every_default_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(value: Any, node: dict[str, Any], path: str) -> None:
        if not isinstance(value, dict) or "properties" not in node:
            return
        for key, child in value.items():
            assert key in node["properties"], f"{path}.{key} is in values.yaml but not in values.schema.json"
            walk(child, node["properties"][key], f"{path}.{key}")

    walk(values, schema, "")
    assert Path(CHART / "values.schema.json").read_text().endswith("\n")


def dashboard_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [role] = [d for d in of_kind(docs, "ClusterRole") if d["metadata"]["name"] == "kubetune-dashboard"]
    [binding] = [d for d in of_kind(docs, "ClusterRoleBinding") if d["metadata"]["name"] == "kubetune-dashboard"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "kubetune-dashboard",
                                    "namespace": "kubetune-system"}]
    return list(role["rules"])


def test_dashboard_rbac_allows_only_events_and_with_actions_only_the_actions() -> None:
    database = {"database": {"existingSecret": {"name": "mirror-db"}}}
    reading = render({**database, "dashboard": {"enabled": True}})
    assert dashboard_rules(reading) == [{"apiGroups": [""], "resources": ["events"], "verbs": ["list"]}]
    assert not [d for d in of_kind(reading, "Secret") if "dashboard" in d["metadata"]["name"]]
    acting = render({**database, "dashboard": {"enabled": True, "actions": {"enabled": True}}})
    assert dashboard_rules(acting)[1:] == [
        {"apiGroups": ["kubetune.dev"], "resources": ["trainingjobs", "modelcomparisons"], "verbs": ["create"]},
        {"apiGroups": ["kubetune.dev"], "resources": ["finetunedmodels"], "verbs": ["get", "patch"]}]
    [token] = [d for d in of_kind(acting, "Secret") if d["metadata"]["name"] == "kubetune-dashboard-token"]
    assert len(token["data"]["token"]) >= 40
    dashboard = next(d for d in of_kind(acting, "Deployment") if d["metadata"]["name"] == "kubetune-dashboard")
    container = dashboard["spec"]["template"]["spec"]["containers"][0]
    assert "--actions" in container["args"] and "--token-file=/var/run/kubetune/dashboard/token" in container["args"]
    quiet = render({**database, "dashboard": {"enabled": True, "events": False}})
    assert not [d for d in of_kind(quiet, "ClusterRole") if d["metadata"]["name"] == "kubetune-dashboard"]
    pod = next(d for d in of_kind(quiet, "Deployment") if d["metadata"]["name"] == "kubetune-dashboard")
    assert pod["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert "--no-cluster" in pod["spec"]["template"]["spec"]["containers"][0]["args"]
    namespaced = render({**database, "watchNamespaces": ["team-a"], "dashboard": {"enabled": True}})
    assert [d["metadata"]["namespace"] for d in of_kind(namespaced, "Role")
            if d["metadata"]["name"] == "kubetune-dashboard"] == ["team-a"]


def test_dashboard_beside_the_operator_on_the_embedded_sqlite() -> None:
    docs = render({"dashboard": {"enabled": True, "actions": {"enabled": True}}})
    assert not [d for d in of_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-dashboard")]
    pod = operator_deployment(docs)["spec"]["template"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/component"] == "operator"
    spec = pod["spec"]
    operator, dashboard = spec["containers"]
    assert dashboard["name"] == "dashboard" and dashboard["command"] == ["kubetune", "dashboard"]
    # Both see the same state directory: the operator writes kubetune.db there, the dashboard reads it.
    state = {c["name"]: next(m for m in c["volumeMounts"] if m["name"] == "state") for c in (operator, dashboard)}
    assert state["operator"]["mountPath"] == state["dashboard"]["mountPath"] == "/var/lib/kubetune"
    for container in (operator, dashboard):
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["KUBETUNE_STATE_DIR"] == "/var/lib/kubetune"
        assert "KUBETUNE_DATABASE_URL" not in env
    # Each container gets its own identity: the operator's token only in the operator container.
    assert spec["automountServiceAccountToken"] is False
    accounts = {c["name"]: next(m["name"] for m in c["volumeMounts"]
                                if m["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount")
                for c in (operator, dashboard)}
    assert accounts == {"operator": "kube-api-access", "dashboard": "dashboard-account"}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dashboard-account"]["secret"]["secretName"] == "kubetune-dashboard-account"
    [account] = [d for d in of_kind(docs, "Secret") if d["metadata"]["name"] == "kubetune-dashboard-account"]
    assert account["type"] == "kubernetes.io/service-account-token"
    assert account["metadata"]["annotations"]["kubernetes.io/service-account.name"] == "kubetune-dashboard"
    assert dashboard["readinessProbe"]["httpGet"]["path"] == "/readyz"
    [service] = [d for d in of_kind(docs, "Service") if d["metadata"]["name"] == "kubetune-dashboard"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "operator"
    assert service["spec"]["ports"][0]["targetPort"] == "dashboard"


def test_the_default_install_has_no_dashboard() -> None:
    docs = render()
    assert not [d for d in docs if "dashboard" in d["metadata"]["name"]]
    assert "app.kubernetes.io/component" not in operator_deployment(docs)["spec"]["template"]["metadata"]["labels"]
