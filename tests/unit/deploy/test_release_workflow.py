"""The release workflow passes actionlint, builds every image for both architectures and pushes the chart by OCI.

actionlint is built from the Go module proxy (hack/build-actionlint.sh) and cached outside the repository; the lint
is skipped only when it cannot be built here.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune_devcluster import deploy

WORKFLOW = deploy.REPO / ".github" / "workflows" / "release.yml"


@cache
def actionlint() -> Path | None:
    done = subprocess.run(["bash", str(deploy.REPO / "hack" / "build-actionlint.sh")], capture_output=True, text=True,
                          timeout=900)
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text()))


def test_actionlint_finds_nothing() -> None:
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint could not be built (no Go toolchain or module proxy)")
    done = subprocess.run([str(binary), "-color=false", str(WORKFLOW)], capture_output=True, text=True,
                          cwd=deploy.REPO)
    assert done.returncode == 0, done.stdout + done.stderr


def test_runs_on_version_tags_only() -> None:
    # PyYAML reads the key `on` as True.
    triggers = workflow()[True]
    assert triggers == {"push": {"tags": ["v*.*.*"]}}


def test_every_image_is_built_for_amd64_and_arm64_and_pushed() -> None:
    jobs = workflow()["jobs"]
    matrix = jobs["images"]["strategy"]["matrix"]["include"]
    assert {m["image"] + m["suffix"] for m in matrix} == {"operator", "evaluator", "trainer", "trainer-cpu"}
    dockerfiles = {m["dockerfile"] for m in matrix}
    assert dockerfiles == {"images/operator/Dockerfile", "images/trainer/Dockerfile", "images/trainer/Dockerfile.cpu"}
    assert all((deploy.REPO / d).exists() for d in dockerfiles)
    build = next(s for s in jobs["images"]["steps"] if s.get("uses", "").startswith("docker/build-push-action"))
    assert build["with"]["platforms"] == "linux/amd64,linux/arm64"
    assert build["with"]["push"] is True
    assert jobs["images"]["permissions"]["packages"] == "write"


def test_chart_is_pushed_as_an_oci_artifact_after_the_images() -> None:
    chart = workflow()["jobs"]["chart"]
    assert "images" in chart["needs"]
    script = "\n".join(s.get("run", "") for s in chart["steps"])
    assert "helm package charts/kubetune" in script
    assert 'helm push "$chart" "oci://$REGISTRY/charts"' in script
