"""deploy/ is rendered from the chart by the real helm; it must not drift, and the chart's RBAC must stay exact."""

from __future__ import annotations

from typing import Any

import yaml

from kubetune_devcluster import deploy


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_rendered_install_and_argocd_patch_match_the_chart() -> None:
    assert deploy.main(["--check"]) == 0, "run `make deploy`"


def test_clusterwide_install_has_crds_rbac_and_a_hardened_operator() -> None:
    docs = documents(deploy.render_manifest())
    kinds = [d["kind"] for d in docs]
    assert kinds.count("CustomResourceDefinition") == 3
    assert {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"} <= set(kinds)
    operator = next(d for d in docs if d["kind"] == "Deployment")
    pod = operator["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == ["kubetune", "operator"]
    assert "--all-namespaces" in container["args"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    secrets = next(r for r in role["rules"] if "secrets" in r["resources"])
    assert secrets["verbs"] == ["get"], "the operator reads secrets; it never lists or changes them"
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in role["rules"])


def test_namespaced_install_uses_roles_in_each_watched_namespace() -> None:
    docs = documents(deploy.helm_template({"watchNamespaces": ["team-a", "team-b"]}, include_crds=False))
    roles = [d for d in docs if d["kind"] == "Role" and not d["metadata"]["name"].endswith("-leader-election")]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    cluster_roles = [d for d in docs if d["kind"] == "ClusterRole"]
    assert [r["rules"] for r in cluster_roles] == [[{"apiGroups": ["apiextensions.k8s.io"],
                                                     "resources": ["customresourcedefinitions"],
                                                     "verbs": ["list", "watch"]}]]
    args = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--namespace=team-b" in args


def test_leader_election_may_touch_only_its_lease() -> None:
    docs = documents(deploy.helm_template({}, include_crds=False))
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"].endswith("-leader-election"))
    assert role["metadata"]["namespace"] == deploy.NAMESPACE
    assert {(tuple(r["verbs"]), tuple(r.get("resourceNames", []))) for r in role["rules"]} == {
        (("create",), ()), (("get", "update"), ("kubetune-operator",))}
