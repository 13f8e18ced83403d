"""`kubetune crds`: what it prints, when it refuses an upgrade, and when a CRD counts as served."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from kubetune.api.crdgen import crd_manifests
from kubetune.cli.crds import established, refused_versions


def test_print_writes_the_crds_of_this_build() -> None:
    done = subprocess.run([sys.executable, "-m", "kubetune.cli", "crds", "print"], capture_output=True, text=True,
                          check=True)
    assert [d for d in yaml.safe_load_all(done.stdout) if d] == crd_manifests()


def stored(*versions: str) -> dict[str, Any]:
    return {"status": {"storedVersions": list(versions)}}


@pytest.mark.parametrize(("current", "refused"), [
    (None, []),                                   # a first install
    (stored("v1alpha1"), []),                     # an upgrade within v1alpha1
    (stored("v1alpha1", "v1beta1"), ["v1beta1"]),  # a downgrade from a release that stored v1beta1
    (stored(), []),
])
def test_refuses_to_drop_a_version_objects_are_stored_in(current: dict[str, Any] | None, refused: list[str]) -> None:
    manifest = crd_manifests()[0]
    assert [v["name"] for v in manifest["spec"]["versions"]] == ["v1alpha1"]
    assert refused_versions(current, manifest) == refused


def test_established_needs_names_accepted_too() -> None:
    def crd(**conditions: str) -> dict[str, Any]:
        return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions.items()]}}

    assert established(crd(Established="True", NamesAccepted="True"))
    assert not established(crd(Established="True", NamesAccepted="False"))
    assert not established(crd(NamesAccepted="True"))
    assert not established({})


def test_purge_needs_a_scope() -> None:
    done = subprocess.run([sys.executable, "-m", "kubetune.cli", "crds", "purge"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "one of the arguments -n/--namespace -A/--all-namespaces is required" in done.stderr
