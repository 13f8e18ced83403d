"""The Argo CD example: the CRDs sync a wave before the chart, which then renders without CRDs or a CRD hook."""

from __future__ import annotations

from typing import Any

import yaml

from kubetune.api.crdgen import CHART_CRD_DIR, KINDS, crd_filename
from kubetune_devcluster import deploy

APPLICATIONS = deploy.REPO / "deploy" / "argocd" / "application.yaml"


def applications() -> dict[str, dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(APPLICATIONS.read_text()) if d]
    assert {d["kind"] for d in docs} == {"Application"}
    return {d["metadata"]["name"]: d for d in docs}


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def test_crds_sync_first_and_are_never_cascade_deleted() -> None:
    apps = applications()
    crds, chart = apps["kubetune-crds"], apps["kubetune"]
    assert wave(crds) < wave(chart)
    assert "resources-finalizer.argocd.argoproj.io" not in crds["metadata"].get("finalizers", [])
    assert crds["spec"]["syncPolicy"]["automated"]["prune"] is False
    assert "ServerSideApply=true" in crds["spec"]["syncPolicy"]["syncOptions"]
    # The directory it syncs holds exactly the generated CRDs.
    directory = deploy.REPO / crds["spec"]["source"]["path"]
    on_disk = {p.name for p in directory.glob("*.yaml")}
    assert on_disk == {crd_filename(kind) for kind in KINDS}
    assert {p.read_text() for p in directory.glob("*.yaml")} == {
        p.read_text() for p in (deploy.REPO / CHART_CRD_DIR).glob("*.yaml")}


def test_chart_application_renders_without_crds_or_a_crd_hook() -> None:
    chart = applications()["kubetune"]
    source = chart["spec"]["source"]
    assert (deploy.REPO / source["path"] / "Chart.yaml").exists()
    assert source["helm"]["skipCrds"] is True
    # Argo CD labels resources with the Application's name; the chart's selectors use the release name.
    assert source["helm"]["releaseName"] == chart["metadata"]["name"]
    assert chart["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]
    # As Argo CD renders it (helm template, hooks included); the values must pass the chart's schema.
    docs = [d for d in yaml.safe_load_all(deploy.helm_template(
        source["helm"]["valuesObject"], release=source["helm"]["releaseName"],
        namespace=chart["spec"]["destination"]["namespace"], include_crds=False, hooks=True)) if d]
    hooks = {d["metadata"]["annotations"]["helm.sh/hook"] for d in docs if d["kind"] == "Job"}
    # Argo CD maps pre-delete to PreDelete; with the CRDs in their own Application, no PreSync CRD hook.
    assert hooks == {"pre-delete"}
    assert not [d for d in docs if d["kind"] == "CustomResourceDefinition"]
